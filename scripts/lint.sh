#!/usr/bin/env bash
# ruff on the registry, the template's tests and benchmarks, and on a freshly baked project: the template's
# own Python files hold Jinja, so the generated code is linted as a user gets it.
set -euo pipefail
template="$(cd "$(dirname "$0")/.." && pwd)"
out="$(mktemp -d -t versioned-ml-lint.XXXXXX)"
trap 'rm -rf "$out"' EXIT
export TMPDIR="$out"  # cookiecutter leaves temp folders behind
cookiecutter --no-input "$template" --output-dir "$out" >/dev/null
ruff check --target-version py311 "$template/registry" "$template/testkit" "$template/tests" "$template/benchmarks" "$out"/*/src "$out"/*/tests "$out"/*/scripts
