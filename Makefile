# Two commands set everything up on a fresh machine:
#   make demo   - creates .venv, installs dltheory, runs the main job (dltheory reproduce --profile quick)
#   make test   - creates .venv, installs dltheory with test tools, runs lint, types, tests and the
#                 verdict check (quick verdicts never contradict the recorded full ones)
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: demo tour test lint pytest verdicts catalogue bench mutate clean

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
	$(BIN)/ruff check src tests benchmarks tools
	$(BIN)/mypy

test: lint pytest verdicts

pytest: $(STAMP)
	$(BIN)/python -m pytest -q

# Re-run the quick profile (reusing stored units) and fail when a quick verdict is the
# opposite of the recorded full-profile one (inconclusive is allowed).
verdicts: $(STAMP)
	$(BIN)/dltheory reproduce --profile quick --out dltheory-results
	$(BIN)/dltheory verdicts dltheory-results

# The claim catalogue, generated from the registry (a test checks it is current).
catalogue: $(STAMP)
	$(BIN)/dltheory list --markdown > docs/claims.md

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_schmidt.py
	$(BIN)/python benchmarks/bench_convac.py --profile
	$(BIN)/python benchmarks/bench_end_to_end.py
	$(BIN)/python benchmarks/bench_trees.py

# Mutation testing (mutmut) of analysis/, lab/ and the claims' verdict rules, with the score
# per package; hours on two cores, resumable; not part of CI.
mutate: $(STAMP)
	$(BIN)/pip install --quiet "mutmut>=3.8"
	HYPOTHESIS_PROFILE=mutate $(BIN)/python tools/mutate.py

clean:
	rm -rf $(VENV) dltheory-results build src/*.egg-info .pytest_cache .mypy_cache .ruff_cache mutants
