# xxgk — the README's two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
SAMPLE := datasets/dev-reports/seed/source.txt
OUT    := out

.PHONY: install install-dev demo demo-stop test lint wheel-check bench eval schema clean train train-layout robustness fuzz

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) install -q -e '.[dev,scan,train,cluster]'
	touch $@

install: $(VENV)/.installed  ## create .venv and install xxgk

install-dev: $(VENV)/.installed-dev

DEMO_DIR  := .xxgk-demo
DEMO_PORT ?= 8000

demo: install  ## extract the bundled sample report, print a summary, start the service with it loaded (background)
	@mkdir -p $(OUT)
	$(VENV)/bin/xxgk extract $(SAMPLE) -o $(OUT)/sample.json
	-$(VENV)/bin/xxgk check $(SAMPLE)
	@echo "JSON written to $(OUT)/sample.json"
	@$(MAKE) --no-print-directory demo-stop >/dev/null
	@mkdir -p $(DEMO_DIR)
	@nohup $(VENV)/bin/xxgk serve --local --port $(DEMO_PORT) --data-dir $(DEMO_DIR)/data --load $(SAMPLE) \
		> $(DEMO_DIR)/serve.log 2>&1 & echo $$! > $(DEMO_DIR)/serve.pid
	@$(PY) scripts/wait_healthy.py http://127.0.0.1:$(DEMO_PORT)/healthz 60 || (cat $(DEMO_DIR)/serve.log; exit 1)
	@echo "service (local mode, no tokens) with the sample loaded: http://127.0.0.1:$(DEMO_PORT)/ui/  (API docs /docs; stop: make demo-stop)"

demo-stop:  ## stop the service make demo started
	@if [ -f $(DEMO_DIR)/serve.pid ]; then kill $$(cat $(DEMO_DIR)/serve.pid) 2>/dev/null || true; rm -f $(DEMO_DIR)/serve.pid; fi

test: install-dev  ## the layer contracts (import-linter), then the whole test suite
	$(VENV)/bin/lint-imports
	$(VENV)/bin/pytest

fuzz: install-dev  ## >= 10,000 inputs: each backend coverage-guided (atheris, 3,120) and with hypothesis mutants (6,900), each in a measured process of its own; then every API endpoint with 200 inputs (schemathesis). Fails on a crash, a hang, a process past limits.max_job_memory_mb
	$(PY) -m tests.fuzz.campaign --atheris-runs 600 --hypothesis-inputs 1150 --api-examples 200 --min-inputs 10000

lint: install-dev  ## ruff (lint + format), mypy and the layer contracts on service/ (CI runs it)
	$(VENV)/bin/ruff check service
	$(VENV)/bin/ruff format --check service
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

wheel-check: install-dev  ## build the wheel (python -m build), install it in a fresh venv, extract a report from elsewhere
	scripts/check_wheel.sh

eval: install  ## accuracy on the dev reports
	$(VENV)/bin/xxgk eval datasets/dev-reports --all-sources

bench: install-dev  ## benchmarks (figures quoted in the README); the scan benchmarks take ~15 + ~8 minutes
	$(PY) benchmarks/bench_digital.py
	$(PY) benchmarks/bench_ocr.py
	$(PY) benchmarks/bench_classifier.py
	$(PY) benchmarks/bench_reconcile.py
	$(PY) benchmarks/bench_scan.py --presets moderate fax
	$(PY) benchmarks/bench_robustness.py

robustness: install-dev  ## perturbed dev reports (datasets/robustness): cells right / silent / flagged per family, text and scan families (~5 min)
	$(PY) benchmarks/bench_robustness.py --json $(OUT)/robustness.json

train-layout: install-dev  ## train the layout model from scratch into models/layout (≈19 min on 2 cores), then measure it
	$(PY) -m training.layout.train
	$(PY) -m training.layout.evaluate --json models/layout/metrics.json

train: install-dev  ## retrain the token classifier end to end into models/tagger (≈45 min on 2 cores), then benchmark it
	$(PY) -m training.labelset
	$(PY) -m training.train
	$(PY) benchmarks/bench_classifier.py

# `make train-from FROM=results.db` (or an `xxgk export --training` folder; MODEL=models/tagger-reviewed optional)
FROM ?= results.db
.PHONY: train-from
train-from: install-dev  ## fine-tune the shipped tagger on the approved reports of FROM (a store or export folder) mixed with synthetic ones (minutes on 2 cores) into a new model folder, scored on the dev reports
	$(VENV)/bin/xxgk train --from $(FROM) $(if $(MODEL),--out $(MODEL))

schema: install  ## regenerate configs/schema from ../shared/spec and the JSON Schema of the output
	$(PY) scripts/build_schema.py
	$(PY) -c "from pathlib import Path; from service.result import write_json_schema; write_json_schema(Path('docs/result.schema.json'))"

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache
