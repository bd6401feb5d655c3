# Two commands set everything up on a fresh machine:
#   make demo   - creates .venv, installs dltheory, runs the main job (dltheory reproduce --profile quick)
#   make test   - creates .venv, installs dltheory with test tools, runs lint, types and tests
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: demo tour test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev,bench]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/dltheory reproduce --profile quick --out dltheory-results

tour: $(STAMP)
	$(BIN)/python -m dltheory.demo

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_schmidt.py
	$(BIN)/python benchmarks/bench_convac.py --profile
	$(BIN)/python benchmarks/bench_end_to_end.py

clean:
	rm -rf $(VENV) dltheory-results build src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
