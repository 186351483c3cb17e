# `make demo` and `make test` work on a fresh clone: both create .venv first.
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-6s %s\n", $$1, $$2}'

$(BIN)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

venv: $(BIN)/.installed ## create .venv with everything the demo and the tests need

demo: venv ## bake the default project into a throwaway folder and run its pipeline
	PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/demo.sh

test: venv ## run the test suite (real cookiecutter, git, DVC and S3 server)
	$(BIN)/python -m pytest tests

bench: venv ## run the benchmarks (tables on stdout): tag commands vs GTO and DVC, pipeline times
	$(BIN)/python benchmarks/tag_ops.py
	$(BIN)/python benchmarks/pipeline.py

lint: venv ## ruff on the tests, the benchmarks and a freshly baked project
	PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/lint.sh

clean: ## remove .venv and caches
	rm -rf $(VENV) .cache .pytest_cache

.PHONY: help venv demo test bench lint clean
