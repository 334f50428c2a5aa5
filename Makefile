# dreamkit: two commands do all the set-up on a fresh machine with Python >= 3.11 and pip.
#   make demo   full evaluation report on a synthetic register (writes ./report/)
#   make test   lint, format check, type check, docs build and the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test bench docs clean

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/dreamkit report --out report

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy dreamkit
	$(BIN)/mkdocs build --strict --site-dir .site
	OPENBLAS_NUM_THREADS=1 $(BIN)/pytest -q -n 2

docs: $(STAMP)
	$(BIN)/mkdocs build --strict --site-dir .site

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) .site report .pytest_cache .mypy_cache .ruff_cache .hypothesis
