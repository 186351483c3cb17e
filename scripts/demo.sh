#!/usr/bin/env bash
# The main job, end to end: bake the default project into a throwaway folder, train, release,
# promote, serve over HTTP, release and promote a second version, roll back, and show that the
# served version followed the tags each time. Set DEMO_DIR to keep the result somewhere else.
set -euo pipefail
template="$(cd "$(dirname "$0")/.." && pwd)"
# The baked project is installed without its dependencies (they are this environment's), and
# one of them is the registry distribution of this template (registry/): it must be installed.
if ! command -v model-registry >/dev/null || ! python -c 'import versioned_ml_registry.bundle' 2>/dev/null; then
  echo "error: the registry is not installed here: pip install -e \"$template/registry[dvc,bundle,serve]\"" >&2
  exit 1
fi

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
ls -l "models/$family"

step() { printf '\n== %s\n' "$*"; }
git add -A && git commit -q -m "feat: first $family model"
step "release and promote v0.1.0"
model-registry release "$family"
model-registry promote "$family" v0.1.0 staging --reason "demo: QA sign-off"
dvc push -q
model-registry promote "$family" v0.1.0 production --reason "demo: launch"

step "serve production over HTTP (following the tags every 0.5 s)"
port="$(python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
model-registry serve --port "$port" --interval 0.5 >"$out/serve.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
record="$(python -c 'import json; fp = json.load(open("models/'"$family"'/fingerprint.json")); print(json.dumps({"records": fp["probe"][:1]}))')"
served() {  # the version that answers now; waits (bounded) for the server, then for $1 if given
  python - "$port" "$family" "$record" "${1:-}" <<'PY'
import json, sys, time, urllib.request
port, family, body, want = sys.argv[1], sys.argv[2], sys.argv[3].encode(), sys.argv[4]
deadline = time.monotonic() + 60
while True:
    try:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/models/{family}/predict", data=body,
                                         headers={"Content-Type": "application/json"})
        answer = json.load(urllib.request.urlopen(request, timeout=5))
        if not want or answer["version"] == want:
            print(f"{answer['version']} predicts {answer['predictions']} (request {answer['request_id']})")
            break
    except OSError:
        pass
    if time.monotonic() > deadline:
        sys.exit(f"error: the server did not serve {want or 'anything'} within 60 s: see serve.log")
    time.sleep(0.2)
PY
}
served

step "train and release v0.2.0, promote it: serving follows"
sed -i 's/^C: .*/C: 0.01/' conf/model/logistic_regression.yaml
dvc repro -q
git add -A && git commit -q -m "feat: stronger regularisation"
model-registry release "$family"
model-registry promote "$family" v0.2.0 staging --reason "demo: QA sign-off"
dvc push -q
model-registry promote "$family" v0.2.0 production --reason "demo: better model"
served v0.2.0

step "roll back: serving follows again"
model-registry rollback "$family" --reason "demo: complaints"
served v0.1.0
model-registry decisions list --family "$family" | tail -n 3
model-registry history "$family"
step "the report: open this index.html in a browser (no server needed)"
model-registry report -o "$out/report" --ledger .model-registry/ledger.sqlite
