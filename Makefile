PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test install clean bench

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/phishtrace demo --samples data/samples --db reports/demo.duckdb

test: $(STAMP)
	$(PY) -m pytest -q -n 2

# DuckDB memory limit and spill directory for the phishtrace runs and the DuckDB floors
BENCH_DIR          ?= /tmp/phishtrace-bench
BENCH_MEMORY_LIMIT ?= 1536MB

bench: $(STAMP)
	mkdir -p $(BENCH_DIR)/spill
	PHISHTRACE_MEMORY_LIMIT=$(BENCH_MEMORY_LIMIT) PHISHTRACE_TEMP_DIR=$(BENCH_DIR)/spill \
		$(PY) benchmarks/run.py --data $(BENCH_DIR)

clean:
	rm -rf $(VENV) reports *.duckdb
