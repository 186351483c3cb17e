"""Turn the rendered folder into a ready repository.

git init on `main`, dvc init, the DVC remote, the example's raw data under DVC, the first
composed params.yaml, and one first commit. Any failure prints one line and exits non-zero;
cookiecutter then removes the project folder.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

ANSWERS = json.loads({{ cookiecutter | jsonify | tojson }})
PACKAGE = ANSWERS["package"]
RAW_DATA = "data/raw/wine.csv"


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


def record_answers() -> None:
    """So the project can be updated from the template later (cookiecutter replay format)."""
    answers = {key: value for key, value in ANSWERS.items() if key not in ("_output_dir", "_repo_dir")}
    Path(".cookiecutter.json").write_text(json.dumps(answers, indent=2, sort_keys=True) + "\n")


def main() -> int:
    try:
        run("git", "init", "--quiet", "--initial-branch=main")
        dvc("init", "--quiet")
        dvc("config", "hydra.enabled", "true")
        remote = configure_remote()
        python("-m", f"{PACKAGE}.dataset", RAW_DATA)
        dvc("add", "--quiet", RAW_DATA)
        python("-m", f"{PACKAGE}.config")
        record_answers()
        run("git", "add", "--all")
        run("git", *commit_identity(), "commit", "--quiet", "-m", "chore: initial project from the versioned-ml template")
    except SetupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"Created {ANSWERS['project']}: git repository on 'main', DVC initialised, {remote}.")
    print(f"Next: cd {ANSWERS['project']} && pip install -e . && dvc repro")
    return 0


if __name__ == "__main__":
    sys.exit(main())
