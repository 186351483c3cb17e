"""The CLI as a subprocess: bad input is one line on stderr, exit 2, no tag changed."""

import json
import subprocess
import sys

import pytest

from vml_testkit.git import tag_refs
from vml_testkit.registry import make_repo, release, run_cli

import versioned_ml_registry as reg  # noqa: E402


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """m: v0.1.0 (production before), v0.5.0 (production), v0.2.0 (candidate, never staged),
    v0.3.0 deprecated, v0.4.0 archived; solo: v0.1.0 in production, nothing before it."""
    r = make_repo(tmp_path_factory.mktemp("cli") / "repo")
    for _ in range(5):
        release(r, "m")
    for v in ("0.1.0", "0.5.0"):
        reg.promote(str(r), "m", v, "staging")
        reg.promote(str(r), "m", v, "production")
    reg.deprecate(str(r), "m", "0.3.0", reason="bad")
    reg.archive(str(r), "m", "0.4.0", reason="old")
    release(r, "solo")
    reg.promote(str(r), "solo", "0.1.0", "staging")
    reg.promote(str(r), "solo", "0.1.0", "production")
    return r


BAD = {
    "unknown family (show)": ["show", "nope"],
    "unknown family (history)": ["history", "nope"],
    "unknown family (resolve)": ["resolve", "nope", "--stage", "production"],
    "unknown family (promote)": ["promote", "nope", "0.1.0", "staging"],
    "version 1.2": ["promote", "m", "1.2", "staging"],
    "version v1.2.3.4": ["promote", "m", "v1.2.3.4", "staging"],
    "version latest": ["promote", "m", "latest", "staging"],
    "unknown stage (promote)": ["promote", "m", "0.2.0", "qa"],
    "unknown stage (resolve)": ["resolve", "m", "--stage", "qa"],
    "never released": ["promote", "m", "0.9.0", "staging"],
    "production without staging": ["promote", "m", "0.2.0", "production"],
    "deprecated without force": ["promote", "m", "0.3.0", "staging"],
    "archived without force": ["promote", "m", "0.4.0", "staging"],
    "canary for production version": ["promote", "m", "0.5.0", "canary"],
    "rollback, no previous holder": ["rollback", "solo", "--reason", "x"],
    "rollback --to never in production": ["rollback", "m", "--to", "0.2.0", "--reason", "x"],
    "rollback without reason": ["rollback", "m"],
    "unknown command": ["frobnicate"],
    "drill, no previous holder": ["drill", "solo"],
    "deprecate the production holder": ["deprecate", "m", "0.5.0", "--reason", "x"],
    "force without reason": ["promote", "m", "0.3.0", "staging", "--force"],
}
for ch in ["@", "#", "!", ":", "/", "..", " "]:
    BAD[f"family with {ch!r}"] = ["promote", f"a{ch}b", "0.1.0", "staging"]
    BAD[f"family with {ch!r} (show)"] = ["show", f"a{ch}b"]


@pytest.mark.parametrize("args", list(BAD.values()), ids=list(BAD))
def test_bad_input(repo, args):
    before = tag_refs(repo)
    p = run_cli(repo, *args)
    assert p.returncode == 2, p.stderr
    lines = p.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), p.stderr
    assert p.stdout == ""
    assert tag_refs(repo) == before


def test_read_commands(repo):
    p = run_cli(repo, "resolve", "m", "--stage", "production")
    assert (p.returncode, p.stdout) == (0, "v0.5.0\n")
    p = run_cli(repo, "resolve", "m", "--stage", "canary")
    assert p.returncode == 1 and "empty" in p.stderr and p.stdout == ""
    data = json.loads(run_cli(repo, "show", "--json").stdout)
    assert data["families"]["m"]["holders"]["production"] == "v0.5.0"
    assert data["families"]["m"]["holders"]["archived"] == "v0.4.0"
    assert data["families"]["m"]["status"]["v0.4.0"] == "archived"
    assert sorted(data["families"]) == ["m", "solo"]
    text = run_cli(repo, "show", "m").stdout
    assert "production  v0.5.0" in text and "deprecated  v0.3.0" in text
    hist = json.loads(run_cli(repo, "history", "m", "--json").stdout)
    assert {"when", "event", "version", "stage", "by", "reason"} <= set(hist[0])
    text = run_cli(repo, "history", "m").stdout
    assert "archive" in text and "old" in text
    p = run_cli(repo, "resolve", "m", "--stage", "production", "--json")
    assert json.loads(p.stdout)["version"] == "v0.5.0"


def test_repo_option_finds_top_level(repo):
    (repo / "sub").mkdir(exist_ok=True)
    p = run_cli(repo / "sub", "resolve", "m", "--stage", "production")
    assert p.stdout == "v0.5.0\n"


def test_not_a_git_repo(tmp_path):
    p = run_cli(tmp_path, "show")
    assert p.returncode == 2 and p.stderr.startswith("error: not a git repository")


def test_write_commands(tmp_path):
    r = make_repo(tmp_path / "w")
    release(r, "m")
    release(r, "m")
    assert run_cli(r, "promote", "m", "v0.1.0", "staging").returncode == 0
    assert run_cli(r, "promote", "m", "0.1.0", "production", "--reason", "go").returncode == 0
    p = run_cli(r, "promote", "m", "0.2.0", "production", "--skip-staging", "--reason", "hotfix")
    assert p.returncode == 0, p.stderr
    p = run_cli(r, "drill", "m")
    assert p.returncode == 0 and "total" in p.stdout
    p = run_cli(r, "rollback", "m", "--reason", "bad")
    assert p.returncode == 0 and "gto show 'm#production' --version" in p.stdout
    assert run_cli(r, "resolve", "m", "--stage", "production").stdout == "v0.1.0\n"
    assert run_cli(r, "archive", "m", "0.2.0", "--reason", "gone").returncode == 0


def test_version_flag_prints_the_registry_version(repo):
    import versioned_ml_registry

    p = run_cli(repo, "--version")
    assert (p.returncode, p.stdout) == (0, f"model-registry {versioned_ml_registry.__version__}\n")


def test_tag_commands_import_neither_dvc_nor_hydra(repo):
    heavy = ("dvc", "hydra", "skops", "sklearn", "numpy", "gto", "omegaconf", "git")
    for args in (["show"], ["history", "m"], ["resolve", "m", "--stage", "production"]):
        p = run_cli(repo, *args, extra_python_args=["-X", "importtime"])
        assert p.returncode == 0, p.stderr
        modules = [line.rsplit("|", 1)[-1].strip() for line in p.stderr.splitlines()
                   if line.startswith("import time:")]
        assert "versioned_ml_registry.cli" in modules
        bad = [m for m in modules if m.split(".")[0] in heavy]
        assert bad == [], bad


def test_resolve_imports_only_what_it_reads_with(repo):
    """The read path is kept light: no YAML, no semver (the registry writes plain X.Y.Z, compared
    as integers), no typing or dataclasses (which pull in inspect), and no other command's module."""
    code = ("import sys; from versioned_ml_registry.cli import main; status = main(sys.argv[1:]); "
            "print(*sorted(sys.modules)); sys.exit(status)")
    p = subprocess.run([sys.executable, "-c", code, "resolve", "m", "--stage", "production"],
                       cwd=repo, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    answer, modules = p.stdout.splitlines()
    assert answer == "v0.5.0"
    modules = set(modules.split())
    assert "versioned_ml_registry.cli.reads" in modules
    light = {"yaml", "semver", "typing", "dataclasses", "inspect", "json", "versioned_ml_registry.cli.writes",
             "versioned_ml_registry.cli.serving"}
    assert modules & light == set()


def test_help_and_typos_see_every_command(repo):
    from versioned_ml_registry.cli import WHERE

    p = run_cli(repo, "--help")
    assert p.returncode == 0 and all(name in p.stdout for name in WHERE)
    p = run_cli(repo, "reslove", "m")
    assert p.returncode == 2 and "invalid choice: 'reslove'" in p.stderr and "'resolve'" in p.stderr
    p = run_cli(repo, "decisions", "--help")
    assert p.returncode == 0 and "verify" in p.stdout


def test_verify_says_only_what_it_checked(repo):
    p = run_cli(repo, "verify", "--remote")
    assert "and the DVC remote" not in p.stdout
    assert "no DVC remote checked: this is not a DVC repository" in p.stdout
