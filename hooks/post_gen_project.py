"""Turn the rendered folder into a ready repository.

Pin the registry distribution to the template commit this project is baked from (or to what
VERSIONED_ML_REGISTRY_PIN names: an index version or a URL), record the template for cruft,
then: git init on `main`, dvc init, the DVC remote, the example family's raw data under DVC,
families.yaml and dvc.yaml's families block (written by the project's own `sync-families`,
their one writer), the first composed params.yaml, and one first commit.
Any failure prints one line and exits non-zero; cookiecutter then removes the project folder.

When cruft renders the template to compute an update (`cruft update`, `cruft diff`), only
the pin is written: the repository already exists.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ANSWERS = json.loads({{ cookiecutter | jsonify | tojson }})
PACKAGE = ANSWERS["package"]
RAW_DATA = f"data/raw/{ANSWERS['model_family']}.csv"  # the example family's data
# every extra the project's commands need: propose/release (dvc), the bundle contract, serve, report
REGISTRY = "versioned-ml-registry[dvc,bundle,serve,report]"
PIN_VARIABLE = "VERSIONED_ML_REGISTRY_PIN"
# a PEP 440 version (a bare one means ==) or comma-separated specifiers: 0.7.1, ~=0.7, >=0.7,<1
VERSION_CLAUSE = r"(===?|~=|!=|<=?|>=?)?\s*[0-9][0-9A-Za-z.+!*-]*"
VERSION_PIN = re.compile(rf"{VERSION_CLAUSE}(\s*,\s*{VERSION_CLAUSE})*")
# cookiecutter itself sets _output_dir; cruft's rendering for an update does not
RENDER_ONLY = "_output_dir" not in ANSWERS


class SetupError(Exception):
    pass


def run(*command: str, env: dict | None = None) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=env)
    except FileNotFoundError:
        raise SetupError(f"'{command[0]}' is not installed: install it and bake again")
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise SetupError(f"'{' '.join(command)}' failed: {detail[-1] if detail else 'no output'}")
    return done.stdout.strip()


def python(*args: str) -> str:
    """Run this interpreter with the new package importable (it is not installed yet)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, ["src", os.environ.get("PYTHONPATH")])))
    return run(sys.executable, *args, env=env)


def dvc(*args: str) -> str:
    return python("-m", "dvc", *args)


def configure_remote() -> str:
    if ANSWERS["dvc_remote"] == "s3":
        dvc("remote", "add", "--default", "storage", ANSWERS["s3_url"])
        return f"DVC remote 'storage' -> {ANSWERS['s3_url']} (endpoint and credentials: environment or .dvc/config.local)"
    storage = Path.cwd().parent / f"{ANSWERS['project']}-dvc-storage"
    dvc("remote", "add", "--default", "local", str(storage))
    return f"DVC remote 'local' -> {storage}"


def commit_identity() -> list[str]:
    """git's own identity if it has one, else the author answers (said out loud)."""
    name = subprocess.run(["git", "config", "user.name"], capture_output=True, text=True).stdout.strip()
    email = subprocess.run(["git", "config", "user.email"], capture_output=True, text=True).stdout.strip()
    if name and email:
        return []
    print(
        f"git has no user configured: the first commit is made as "
        f"{ANSWERS['author_name']} <{ANSWERS['author_email']}>; set yours with "
        "'git config --global user.name/user.email'"
    )
    return ["-c", f"user.name={ANSWERS['author_name']}", "-c", f"user.email={ANSWERS['author_email']}"]


def git_output(folder: str, *args: str) -> str | None:
    done = subprocess.run(["git", "-C", folder, *args], capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else None


def template_source() -> tuple[str | None, str | None, str]:
    """(template source, commit, registry requirement) of the template being rendered.

    cruft says both; cookiecutter gives the template's folder (its clone of a git URL, or the
    folder named): a git checkout whose registry/ is committed pins to its HEAD, anything else
    to the folder itself, which only this machine can install."""
    if RENDER_ONLY:
        source, commit = ANSWERS["_template"], ANSWERS["_commit"]
    else:
        folder = os.path.abspath(ANSWERS["_repo_dir"])
        commit = git_output(folder, "rev-parse", "HEAD")
        clean = commit is not None and git_output(folder, "status", "--porcelain", "--", "registry") == ""
        if not clean:
            return None, None, f"{REGISTRY} @ {Path(folder, 'registry').as_uri()}"
        given = ANSWERS["_template"]
        source = given if "://" in given or given.startswith("git@") else folder
    source = source.removeprefix("git+")
    url = source if "://" in source or source.startswith("git@") else Path(source).as_uri()
    return source, commit, f"{REGISTRY} @ git+{url}@{commit}#subdirectory=registry"


def chosen_pin(value: str) -> str:
    """The registry requirement for a VERSIONED_ML_REGISTRY_PIN value: an index version, or a
    direct URL pip installs (git+https://...@<commit>#subdirectory=registry, file:///...)."""
    value = value.strip()
    if "://" in value and value.isascii() and not any(c.isspace() or c in "\"'\\" for c in value):
        return f"{REGISTRY} @ {value}"
    if VERSION_PIN.fullmatch(value):
        return REGISTRY + (value if value[0] in "=~!<>" else f"=={value}")
    raise SetupError(f"{PIN_VARIABLE}={value!r} is neither a version (0.7.1, ~=0.7) nor a URL pip installs "
                     "(git+https://HOST/TEMPLATE.git@COMMIT#subdirectory=registry): fix it and bake again")


def machine_local(requirement: str) -> str | None:
    """The location of a pin that only this machine can install (a file:// URL or a folder)."""
    _, at, location = requirement.partition(" @ ")
    if at and (location.startswith(("file:", "git+file:")) or "://" not in location):
        return location
    return None


def registry_version() -> str | None:
    """The registry version of the template being baked (what an index pin would name)."""
    version_file = Path(ANSWERS["_repo_dir"], "registry", "src", "versioned_ml_registry", "_version.py")
    found = re.search(r'__version__ = "([^"]+)"', version_file.read_text()) if version_file.is_file() else None
    return found.group(1) if found else None


def pin_registry(requirement: str) -> None:
    pyproject = Path("pyproject.toml")
    text = pyproject.read_text()
    if f'"{REGISTRY}",' not in text:
        raise SetupError("pyproject.toml lacks the registry dependency line to pin")
    pyproject.write_text(text.replace(f'"{REGISTRY}",', json.dumps(requirement) + ",", 1))


def record_template(source: str | None, commit: str | None) -> None:
    """.cookiecutter.json (replay format) and, when the template commit is known, .cruft.json,
    so `cruft check` and `cruft update` follow the template."""
    answers = {key: value for key, value in ANSWERS.items() if not key.startswith("_")}
    Path(".cookiecutter.json").write_text(json.dumps(answers, indent=2, sort_keys=True) + "\n")
    if commit is None:
        return
    state = {"template": source, "commit": commit, "checkout": None,
             "context": {"cookiecutter": {**answers, "_template": source, "_commit": commit}},
             "directory": None, "skip": []}
    Path(".cruft.json").write_text(json.dumps(state, indent=2) + "\n")


def main() -> int:
    try:
        source, commit, requirement = template_source()
        if os.environ.get(PIN_VARIABLE):
            requirement = chosen_pin(os.environ[PIN_VARIABLE])
        pin_registry(requirement)
        if RENDER_ONLY:
            return 0
        run("git", "init", "--quiet", "--initial-branch=main")
        dvc("init", "--quiet")
        remote = configure_remote()
        python("-m", PACKAGE, "sync-families")  # before any dvc command: dvc.yaml reads families.yaml
        python("-m", f"{PACKAGE}.example_data", RAW_DATA)
        dvc("add", "--quiet", RAW_DATA)
        python("-m", f"{PACKAGE}.config")
        record_template(source, commit)
        run("git", "add", "--all")
        run("git", *commit_identity(), "commit", "--quiet", "-m", "chore: initial project from the versioned-ml template")
    except SetupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"Created {ANSWERS['project']}: git repository on 'main', DVC initialised, {remote}.")
    if os.environ.get(PIN_VARIABLE):
        print(f"The registry is pinned to {requirement} ({PIN_VARIABLE}).")
    elif commit is not None:
        print(f"The registry is pinned to the template commit {commit[:12]}; `cruft update` moves the pin.")
    local = machine_local(requirement)
    if local is not None:
        print(f"The registry pin is machine-local ({local}): teammates and CI cannot install it; re-pin it to a "
              f"URL or an index version: bake with {PIN_VARIABLE}=git+https://HOST/TEMPLATE.git@COMMIT"
              f"#subdirectory=registry or {PIN_VARIABLE}={registry_version() or 'X.Y.Z'}, or edit the "
              f"versioned-ml-registry line of pyproject.toml (README, \"Pin the registry\").")
    print(f"Next: cd {os.getcwd()} && pip install --upgrade pip && pip install -e \".[test]\" && dvc repro")
    print(f"Your own data: python -m {PACKAGE} add-family {ANSWERS['model_family']} --data FILE --target COLUMN "
          f"--replace puts a CSV or Parquet file in place of the example (README, \"Families\")")
    return 0


if __name__ == "__main__":
    sys.exit(main())
