#!/usr/bin/env bash
# The wheel stands alone: build it with `python -m build` (sdist, then the wheel from the sdist), install it into a
# fresh venv, and run `xxgk extract` on a dev report (r005: it has narrative facts, so the classifier must
# have travelled too) from a directory outside the checkout; the cells must be
# those the checkout extracts. Run by .ci/run (make wheel-check).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
py="${PYTHON:-$repo/.venv/bin/python}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$py" -m build --outdir "$work/dist" "$repo" >"$work/build.log" 2>&1 || { tail -30 "$work/build.log"; exit 1; }
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q --upgrade pip
"$work/venv/bin/pip" install -q "$work"/dist/xxgk-*.whl
sample="$repo/datasets/dev-reports/r005/source.txt"
mkdir "$work/elsewhere"
(cd "$work/elsewhere" && env -u PYTHONPATH "$work/venv/bin/xxgk" extract "$sample" -o "$work/installed.json")
"$py" -m service.cli extract "$sample" -o "$work/checkout.json"
"$py" - "$work/installed.json" "$work/checkout.json" <<'PY'
import json, sys
a, b = (json.load(open(p, encoding="utf-8")) for p in sys.argv[1:3])
cells = lambda r: {k: (v["value"], v["status"]) for k, v in r["cells"].items()}
assert cells(a) == cells(b), "the installed wheel reads other cells than the checkout"
assert a["coverage"]["status"] == "complete", a["coverage"]
assert a["facts"] and a["facts"] == b["facts"], "facts differ: the classifier did not travel in the wheel"
print(f"wheel ok: {len(a['cells'])} cells as the checkout reads them, {len(a['facts'])} facts, coverage complete")
PY
