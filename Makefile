# `make demo` and `make test` work on a fresh clone: both create .venv first.
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'

$(BIN)/.installed: requirements.txt registry/pyproject.toml testkit/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

venv: $(BIN)/.installed ## create .venv with everything the demo and the tests need

demo: venv ## bake, train, release, promote, serve over HTTP, promote again, roll back: the served version follows
	PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/demo.sh

browser: ## Debian's chromium for the report's browser tests, when missing (apt-get: needs root)
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
		|| echo "chromium could not be installed: the report's browser tests skip (they fail under CI)"

test: venv browser ## run the test suite: the registry's own tests, then bake-and-run (real cookiecutter, git, DVC, S3 server)
	$(BIN)/python -m pytest registry/tests tests

test-fast: venv ## the quick loop (a few minutes): every test not marked slow (pytest.ini lists the markers)
	$(BIN)/python -m pytest -m "not slow" registry/tests tests

bench: venv ## run the benchmarks (tables on stdout): tag commands vs GTO and DVC, serving, pipeline times, signing
	$(BIN)/python benchmarks/tag_ops.py
	$(BIN)/python benchmarks/serving.py
	$(BIN)/python benchmarks/pipeline.py
	$(BIN)/python benchmarks/signing.py

lint: venv ## ruff on the tests, the benchmarks and a freshly baked project
	PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/lint.sh

clean: ## remove .venv and caches
	rm -rf $(VENV) .cache .pytest_cache

.PHONY: help venv browser demo test test-fast bench lint clean
