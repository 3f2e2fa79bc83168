"""The robustness suite (datasets/robustness/generate.py): determinism, what each family changes and what it
keeps, and an end-to-end slice. The full run is ``benchmarks/bench_robustness.py`` (``make robustness``)."""
from __future__ import annotations

import re
from functools import cache

import pytest
from bs4 import BeautifulSoup

from datasets.robustness import generate as gen
from service.evaluate import score
from tests.conftest import levenshtein

APPLICABLE = [(r, f) for r in gen.RENDERINGS for f in gen.FAMILIES
              if f != "clean" and gen.skip_reason(r, f) is None]


@cache
def variant(rendering: str, family: str, seed: int = 0) -> gen.Variant:
    return gen.generate(rendering, family, seed)


def _kind(rendering: str) -> str:
    kind = gen.RENDERINGS[rendering].kind
    return "html" if kind == "pdf" else kind


def values(rendering: str, v: gen.Variant) -> list[str]:
    """The value cells of a variant as printed, in document order."""
    if _kind(rendering) == "html":
        soup = BeautifulSoup(v.data, "lxml")
        return [c.td.get_text().strip() for t in gen.html_tables(soup) for c in t.cells if c.role == "value"]
    text = v.data.decode("utf-8")
    return [text[s.start:s.end] for s in gen.analyse_text(text, _kind(rendering)).of("value")]


def labels(rendering: str, v: gen.Variant) -> list[str]:
    """The label cells of a variant, in document order."""
    if _kind(rendering) == "html":
        soup = BeautifulSoup(v.data, "lxml")
        return [c.td.get_text() for t in gen.html_tables(soup) for c in t.cells if c.role == "label"]
    text = v.data.decode("utf-8")
    return [text[s.start:s.end] for s in gen.analyse_text(text, _kind(rendering)).of("label")]


# --- determinism, coverage of the families --------------------------------------------------------------


@pytest.mark.parametrize("rendering,family", [
    ("seed", "label_noise_5"), ("r003", "line_wraps"), ("r013", "scattered"), ("r005-txt", "heading_typo"),
    ("r001", "mixed"), ("r010-html", "html_layout_tables"), ("seed", "reorder_blank_lines"),
])
def test_same_seed_same_bytes_other_seed_other_bytes(rendering, family):
    a, b, c = gen.generate(rendering, family, 0), gen.generate(rendering, family, 0), gen.generate(rendering, family, 1)
    assert a.data == b.data
    assert a.data != c.data


def test_every_family_changes_every_rendering_it_applies_to():
    for rendering, family in APPLICABLE:
        v = variant(rendering, family)
        assert v.data != variant(rendering, "clean").data, (rendering, family)
        assert v.steps and (family == "mixed") == (len(v.steps) > 1), (rendering, family, v.steps)
    mixed = [variant(r, "mixed") for r in gen.RENDERINGS]
    assert all(3 <= len(v.steps) <= 4 for v in mixed)


def test_skipped_combinations_say_why():
    assert "1000" in str(gen.skip_reason("seed", "thousands_sep"))
    assert "blank" in str(gen.skip_reason("r003", "run_together"))
    assert "r005-html" in str(gen.skip_reason("r005-txt", "scattered"))
    assert gen.skip_reason("r013", "html_layout_tables")
    with pytest.raises(gen.Skip):
        gen.generate("seed", "thousands_sep", 0)


def test_clean_html_is_the_source_re_serialised():
    source = gen.Variant("r003", "clean", 0, gen.RENDERINGS["r003"].source.read_bytes(), ".html")
    assert values("r003", variant("r003", "clean")) == values("r003", source)
    assert variant("seed", "clean").data == gen.RENDERINGS["seed"].source.read_bytes()


# --- what each family keeps -------------------------------------------------------------------------------


@pytest.mark.parametrize("rendering", ["seed", "r001", "r003", "r005-txt", "r013"])
@pytest.mark.parametrize("family,rate", [("label_noise_5", 0.05), ("label_noise_10", 0.10)])
def test_label_noise_changes_its_share_of_label_characters_and_no_value(rendering, family, rate):
    clean, v = variant(rendering, "clean"), variant(rendering, family)
    assert values(rendering, v) == values(rendering, clean)
    before, after = labels(rendering, clean), labels(rendering, v)
    assert len(before) == len(after)
    han = sum(len(gen.HAN.findall(x)) for x in before)
    k = round(rate * han)
    assert v.stats["label_chars"] == han and v.stats["label_changed"] == k
    edits = sum(levenshtein(a, b) for a, b in zip(before, after, strict=True))  # a substitution or a drop each
    assert 0.9 * k <= edits <= k


VALUE_CASES = [(r, f) for r, f in APPLICABLE if f in ("fullwidth_digits", "thousands_sep", "space_in_number", "units")]


@pytest.mark.parametrize("rendering,family", VALUE_CASES)
def test_value_families_keep_every_number(rendering, family):
    old = values(rendering, variant(rendering, "clean"))
    new = values(rendering, variant(rendering, family))
    assert len(old) == len(new)
    changed = [(a, b) for a, b in zip(old, new, strict=True) if a != b]
    assert changed
    for a, b in zip(old, new, strict=True):
        assert gen._number(b) == gen._number(a), (a, b)
    for a, b in changed:
        if family == "fullwidth_digits":
            assert b == a.translate(gen.FULLWIDTH)
        elif family == "thousands_sep":
            assert b.replace(",", "") == a and abs(gen._number(a) or 0) >= 1000
        elif family == "space_in_number":
            assert b.replace(" ", "") == a and len(re.sub(r"\D", "", a.split(".")[0])) >= 2
        else:
            assert b in (a + "件", a + "万元")
    if family == "thousands_sep":  # every value of four or more integer digits, and no other, got separators
        for a, b in zip(old, new, strict=True):
            assert ("," in b) == (len(re.sub(r"\D", "", re.split(r"[.．]", a)[0])) >= 4), (a, b)
    if family == "units":
        fee = [b for b in new if b.endswith("万元")]
        assert len(fee) == (gen.truth(gen.RENDERINGS[rendering].report)["format"] == "2021")


def test_extra_subtotal_rows_and_column_leave_the_schema_rows_as_printed():
    old = variant("seed", "clean").data.decode().splitlines()
    rows, column = variant("seed", "extra_subtotal", 0), variant("seed", "extra_subtotal", 1)
    assert rows.stats.get("subtotal_rows") and column.stats.get("subtotal_column_cells")
    new = rows.data.decode().splitlines()
    assert [x for x in new if "小计" not in x] == old and sum("小计" in x for x in new) == rows.stats["subtotal_rows"]
    new = column.data.decode().splitlines()
    assert len(new) == len(old)
    for a, b in zip(old, new, strict=True):
        if a != b:
            cells_a, cells_b = a.split("\t"), b.split("\t")
            assert any(cells_b[:i] + cells_b[i + 1:] == cells_a for i in range(len(cells_b))), (a, b)


def test_extra_subtotal_in_html_extends_the_group_and_the_header():
    v = variant("r003", "extra_subtotal", 0)
    assert v.stats == {"subtotal_rows": 1}
    t3 = next(t for t in gen.html_tables(BeautifulSoup(v.data, "lxml")) if t.kind == "t3")
    sub = next(r for r in range(len(t3.rows)) if t3.row_label(r) == "小计")
    group = next(c for c in t3.cells if c.text.startswith("（三）不予公开") or c.text.startswith("（四）无法提供")
                 or c.text.startswith("（五）不予处理") if c.row < sub <= c.row + c.rowspan - 1)
    assert group.rowspan in (4, 6, 9)
    col = variant("r005-html", "extra_subtotal", 0)
    t3 = next(t for t in gen.html_tables(BeautifulSoup(col.data, "lxml")) if t.kind == "t3")
    head = next(c for c in t3.cells if c.text == "小计")
    other = next(c for c in t3.cells if c.text == "其他")
    assert head.col == other.col + 1 and next(c for c in t3.cells if c.text == "法人或其他组织").colspan == 6




@pytest.mark.parametrize("rendering", ["seed", "r013"])
def test_heading_typo_edits_each_heading_title_by_one_or_two_characters(rendering):
    old = variant(rendering, "clean").data.decode().splitlines()
    new = variant(rendering, "heading_typo", 1).data.decode().splitlines()
    assert len(old) == len(new)
    changed = [(a, b) for a, b in zip(old, new, strict=True) if a != b]
    assert len(changed) >= 6
    for a, b in changed:
        m = gen.HEADING.search(a) or gen.TABLE_TITLE.search(a)
        assert m is not None, a
        title = a[m.end("num") + 1:] if m.re is gen.HEADING else m.group("title")
        numbering = re.match(r"(?:[一二三四五六1-6][、.．]|（[一二三四五六]）)", b)
        if m.re is gen.HEADING:
            assert numbering is not None, b
            assert 1 <= levenshtein(title, b[numbering.end():]) <= 2, (a, b)
        else:
            assert 1 <= levenshtein(title, b[b.index("：") + 1:]) <= 2, (a, b)


def test_reorder_keeps_every_line_and_the_tables_in_order():
    old = variant("seed", "clean").data.decode().splitlines()
    new = variant("seed", "reorder_blank_lines").data.decode().splitlines()
    assert sorted(x for x in old if x.strip()) == sorted(x for x in new if x.strip())
    assert [x for x in old if "\t" in x] == [x for x in new if "\t" in x]
    assert old != new


def test_layout_tables_wrap_the_page_and_keep_the_report_tables():
    clean, v = variant("r003", "clean"), variant("r003", "html_layout_tables")
    soup = BeautifulSoup(v.data, "lxml")
    assert soup.body is not None and soup.body.find("table", recursive=False) is not None

    def cells(data: bytes) -> list[list[str]]:
        return [[c.text for c in t.cells] for t in gen.html_tables(BeautifulSoup(data, "lxml"))]

    assert cells(v.data) == cells(clean.data) and len(cells(v.data)) == 3


def test_scattered_and_run_together_keep_every_value_in_order():
    from service.ingest import load_document

    doc = load_document(gen.RENDERINGS["r001"].source)
    t3 = next(b.table for b in doc.tables() if b.table is not None and gen.table_kind(b.table) == "t3")
    expected = [v for _, vs in gen.logical_rows(t3) for v in vs]
    assert len(expected) == 23 * 7
    md = variant("r001", "scattered").data.decode()
    part = md[md.index("三、收到和处理"):md.index("四、政府信息公开行政复议")]
    piped = [c.strip() for line in part.splitlines() if line.startswith("|") and "---" not in line
             for c in line.strip("|").split("|")]
    assert [c for c in piped if gen.VALUE_CELL.fullmatch(c)] == expected
    assert "| 0 | 0 |" in md and re.search(r"^[^|\n]+\n[^|\n]+\n\|", md, re.M)  # label lines, then value rows
    text = variant("r001", "run_together").data.decode()
    lay = gen.analyse_text(text, "crawl")
    a, b = lay.bounds["t3"]
    assert "".join(text[s.start:s.end] for s in lay.of("value") if a <= s.start < b) == "".join(expected)
    assert len([x for x in text.splitlines() if not x.startswith(("标题:", "====="))]) == 1  # one body line


# --- end to end -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("rendering,family,seed", [
    ("seed", "heading_typo", 0),
    ("seed", "fullwidth_digits", 0),
    ("r003", "label_noise_5", 0),
    ("r005-html", "extra_subtotal", 0),  # a 小计 column placed by the row rules (自然人 spans two grid columns)
    ("r001", "scattered", 0),  # label lines and value rows apart, labels wrapped, （六）其他处理 as one row
    ("r013", "space_in_number", 0),  # 12 95 in one cell is one number
    ("r005-txt", "label_noise_10", 1),  # crawled text, a tenth of the label characters swapped or dropped
    ("r005-txt", "line_wraps", 0),  # crawled text hard-wrapped inside labels and headings
    ("seed", "line_wraps", 2),  # tab rows broken inside their labels
    ("r013", "line_wraps", 0),  # pipe rows broken inside their cells
    ("r010-html", "scattered", 1),  # table-2 label lines wrapped, value rows apart
    ("r003", "mixed", 2),  # a 小计 column in a table that prints its 总计 blank, labels wrapped, heading typos
    ("seed", "run_together", 0),  # run together with the seed's lost 其他 column and its 14-value table 4
    # a row whose label was lost: its digits ran into the row before it; four table-2 cells ("2222235" for
    # 22 | 22 | 235) no rule can split stay flagged, so this document reads 98 %
    pytest.param("r013", "run_together", 0, marks=pytest.mark.minimum(0.98)),
])
def test_end_to_end_no_crash_and_no_silent_error(tmp_path, request, rendering, family, seed):
    from service.pipeline import extract

    v = gen.generate(rendering, family, seed)
    path = tmp_path / v.name
    path.write_bytes(v.data)
    result = extract(path)
    report = gen.RENDERINGS[rendering].report
    s = score(result, gen.truth(report), report, v.name)
    assert s.format_ok
    silent = [w for w in s.wrong if not (result.cells.get(w[0]) and result.cells[w[0]].needs_review)]
    assert silent == [], f"{len(silent)} wrong cells not flagged, e.g. {silent[:5]}"
    marker = request.node.get_closest_marker("minimum")
    minimum = marker.args[0] if marker else 0.99  # issue 13: >= 99 % per family
    assert s.accuracy >= minimum, f"{s.right}/{s.total} right, e.g. {s.wrong[:5]}"
