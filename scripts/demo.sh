#!/usr/bin/env bash
# Bake the default project into a throwaway folder, run its pipeline, show what it made.
# Set DEMO_DIR to keep the result somewhere else.
set -euo pipefail
template="$(cd "$(dirname "$0")/.." && pwd)"
out="${DEMO_DIR:-$(mktemp -d -t versioned-ml-demo.XXXXXX)}"
mkdir -p "$out/.tmp"
export TMPDIR="$out/.tmp"  # cookiecutter leaves temp folders behind: keep them in the demo folder

cookiecutter --no-input "$template" --output-dir "$out"
project="$(find "$out" -mindepth 1 -maxdepth 1 -type d ! -name '.tmp' ! -name '*-dvc-storage' | head -n 1)"
cd "$project"
python -m pip install --quiet --no-deps --no-build-isolation --editable .
dvc repro
echo
dvc metrics show
family="$(python -c 'import yaml; print(next(iter(yaml.safe_load(open("dvc.yaml"))["artifacts"])))')"
echo
echo "Project: $project"
echo "Bundle:  $project/models/$family"
ls -l "models/$family"
