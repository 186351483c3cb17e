"""Our resolver, GTO, `dvc artifacts get` and `load_model` name the same version (issue 3, item 7).

One real baked project goes through a release history once (module fixture): release, promote,
re-promote an old version, rollback, canary (then to production), deprecate, and a burst of
events stamped within the same second. After every step, for the stages that step is about:

- `model-registry resolve <family> --stage S`,
- `gto show <family>#S --version` (the gto CLI: its Python API orders by SemVer, DESIGN 7),
- `dvc artifacts get . <family> --stage S -o <dir>`: the version whose dvc.lock (at its
  commit) lists exactly the md5s of the files it wrote,
- `load_model(<family>, stage=S)` (`versioned_ml_registry`, in this process): its version, and its
  predictions on the fetched bundle's probe records equal the fetched fingerprint,

must all be the same version, and it must be the one the scenario intends; `gto show --json`
must give every stage the holder our `show --json` implies. From the second promotion on, git
signs every tag with a real ssh key: the readers read signed and unsigned tags alike.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from vml_testkit.bake import copy_project, package_of
from vml_testkit.env import project_env
from vml_testkit.git import commit_all, git, run
from vml_testkit.paths import BIN
from vml_testkit.registry import registry
from vml_testkit.signing import make_key, sign_as, signer_line, verify_tag

pytestmark = pytest.mark.slow

FAMILY = "cultivar"
GTO = str(BIN / "gto")
DVC = str(BIN / "dvc")
STAGES = ["candidate", "staging", "canary", "production", "shadow", "deprecated", "archived"]

# step -> the holders it must leave (stage -> version); these stages are checked with all readers
STEPS = {
    "release": {"candidate": "v0.1.0"},
    "promote": {"staging": "v0.1.0", "production": "v0.1.0"},
    "release_second": {"candidate": "v0.2.0", "production": "v0.1.0"},
    "promote_second": {"staging": "v0.2.0", "production": "v0.2.0"},
    "repromote_old": {"production": "v0.1.0"},
    "rollback": {"production": "v0.2.0", "deprecated": "v0.1.0"},
    "canary": {"canary": "v0.3.0", "production": "v0.2.0", "staging": "v0.3.0"},
    "canary_to_production": {"canary": "v0.3.0", "production": "v0.3.0"},
    # the burst's rollback hands v0.3.0's candidate and staging to v0.2.0 (no stage stays with a
    # deprecated version), its forced re-promotion takes production and canary back
    "same_second": {"production": "v0.3.0", "deprecated": "v0.3.0", "canary": "v0.3.0", "staging": "v0.2.0",
                    "candidate": "v0.2.0"},
    "deprecate": {"deprecated": "v0.2.0", "production": "v0.3.0", "staging": "v0.3.0", "candidate": "v0.3.0"},
}


def new_version(project: Path, c: float, message: str) -> None:
    conf = project / "conf/model/logistic_regression.yaml"
    conf.write_text("\n".join(f"C: {c}" if line.startswith("C:") else line
                              for line in conf.read_text().splitlines()) + "\n")
    run(project, "dvc", "repro")
    commit_all(project, message)
    registry(project, "release", FAMILY)
    run(project, "dvc", "push")  # production needs the artifacts in the DVC remote


def bundle_manifests(project: Path) -> dict:
    """version -> (commit, {file: md5}) from dvc.lock at each version tag's commit and the DVC cache."""
    out = {}
    for tag in git(project, "tag", "-l", f"{FAMILY}@v*").split():
        commit = git(project, "rev-parse", f"{tag}^{{commit}}")
        lock = yaml.safe_load(git(project, "show", f"{commit}:dvc.lock"))
        (entry,) = [o for o in lock["stages"][f"package@{FAMILY}"]["outs"] if o["path"] == f"models/{FAMILY}"]
        md5 = entry["md5"]
        listing = json.loads((project / ".dvc/cache/files/md5" / md5[:2] / md5[2:]).read_text())
        out[tag.split("@", 1)[1]] = (commit, {e["relpath"]: e["md5"] for e in listing})
    return out


def files_md5(folder: Path) -> dict:
    return {str(p.relative_to(folder)): hashlib.md5(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


class Observer:
    """Runs every reader for a step; GTO and DVC processes run in parallel."""

    def __init__(self, project: Path, base: Path):
        self.project, self.base = project, base
        self.env = project_env(project)
        import versioned_ml_registry

        # the installed registry distribution, the one `model-registry` runs: the project holds
        # no registry source of its own
        self.api = versioned_ml_registry
        assert not Path(self.api.__file__).resolve().is_relative_to(project.resolve())
        assert not (project / "src" / package_of(project) / "registry").exists()
        self.seen: dict[str, dict] = {}

    def close(self):
        pass

    def _spawn(self, *command):
        return subprocess.Popen(command, cwd=self.project, env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def observe(self, step: str, stages) -> None:
        procs = {("gto", "json"): self._spawn(GTO, "show", "--json")}
        for stage in stages:
            out = self.base / step / stage
            procs[("gto", stage)] = self._spawn(GTO, "show", f"{FAMILY}#{stage}", "--version")
            procs[("dvc", stage)] = self._spawn(DVC, "artifacts", "get", ".", FAMILY, "--stage", stage,
                                                "-o", str(out), "--force")
        ours = {stage: registry(self.project, "resolve", FAMILY, "--stage", stage, check=False)
                for stage in STAGES}
        shown = json.loads(registry(self.project, "show", FAMILY, "--json").stdout)["families"][FAMILY]
        loaded = {}
        for stage in stages:
            model = self.api.load_model(FAMILY, stage=stage, repo=str(self.project))
            loaded[stage] = model
        done = {}
        for key, proc in procs.items():
            stdout, stderr = proc.communicate(timeout=180)
            assert proc.returncode == 0, f"{key}: {stderr}"
            done[key] = stdout
        manifests = bundle_manifests(self.project)
        result = {"stages": {}, "gto_all": json.loads(done[("gto", "json")])[FAMILY]["stage"],
                  "ours_all": {s: (p.stdout.strip() if p.returncode == 0 else None) for s, p in ours.items()},
                  "show": shown, "tag_times": tag_times(self.project)}
        for stage in stages:
            folder = self.base / step / stage
            fetched = files_md5(folder)
            matching = [v for v, (_, files) in manifests.items() if files == fetched]
            fingerprint = json.loads((folder / "fingerprint.json").read_text())
            model = loaded[stage]
            result["stages"][stage] = {
                "ours": result["ours_all"][stage],
                "gto": done[("gto", stage)].strip(),
                "dvc": matching,
                "load_model": model.version,
                "load_model_commit": model.commit,
                "version_commit": manifests[model.version][0] if model.version in manifests else None,
                "predictions_match": model.predict(fingerprint["probe"]) == fingerprint["predictions"],
                "probe_size": len(fingerprint["probe"]),
                "fingerprint": fingerprint["predictions"],
            }
        self.seen[step] = result


def tag_times(project: Path) -> list[tuple[int, str]]:
    out = git(project, "for-each-ref", "--format=%(taggerdate:unix) %(refname:strip=2)", f"refs/tags/{FAMILY}*")
    return sorted((int(t), name) for t, name in (line.split(" ", 1) for line in out.splitlines()))


@pytest.fixture(scope="module")
def history(reproduced, tmp_path_factory):
    base = tmp_path_factory.mktemp("interop")
    project = copy_project(reproduced, base / "wine-cultivar", base / "dvc-storage")
    watch = Observer(project, base / "fetched")
    reg = lambda *args: registry(project, *args)  # noqa: E731
    try:
        commit_all(project, "feat: first model")
        reg("release", FAMILY)
        run(project, "dvc", "push")
        watch.observe("release", STEPS["release"])

        reg("promote", FAMILY, "v0.1.0", "staging", "--reason", "qa")
        reg("promote", FAMILY, "v0.1.0", "production", "--reason", "go")
        watch.observe("promote", STEPS["promote"])

        new_version(project, 0.05, "feat: regularise more")  # v0.2.0: one probe prediction differs
        watch.observe("release_second", STEPS["release_second"])

        sign_as(project, make_key(base / "keys", "alice"), "alice@example.com")
        (base / "allowed_signers").write_text(signer_line("alice@example.com", base / "keys" / "alice"))

        reg("promote", FAMILY, "v0.2.0", "staging", "--reason", "qa")
        reg("promote", FAMILY, "v0.2.0", "production", "--reason", "go")
        watch.observe("promote_second", STEPS["promote_second"])

        reg("promote", FAMILY, "v0.1.0", "production", "--reason", "back to the old one")
        watch.observe("repromote_old", STEPS["repromote_old"])

        reg("rollback", FAMILY, "--reason", "the old one was worse after all")
        watch.observe("rollback", STEPS["rollback"])

        new_version(project, 0.01, "feat: regularise even more")  # v0.3.0
        reg("promote", FAMILY, "v0.3.0", "staging", "--reason", "qa")
        reg("promote", FAMILY, "v0.3.0", "canary", "--reason", "10% of traffic")
        watch.observe("canary", STEPS["canary"])

        reg("promote", FAMILY, "v0.3.0", "production", "--reason", "canary healthy")
        watch.observe("canary_to_production", STEPS["canary_to_production"])

        # several events stamped within one second: the clock is frozen, the registry must
        # still give every tag its own, later, second
        api, frozen = watch.api, float(int(time.time()))
        api.rollback(api.Repo(str(project), now=lambda: frozen), FAMILY, reason="burst: roll back")
        api.promote(api.Repo(str(project), now=lambda: frozen), FAMILY, "v0.3.0", "production",
                    reason="burst: false alarm", force=True)
        watch.observe("same_second", STEPS["same_second"])

        # v0.2.0 serves staging since the burst's rollback: staging moves on before it is deprecated
        reg("promote", FAMILY, "v0.3.0", "staging", "--reason", "qa the fix")
        reg("deprecate", FAMILY, "v0.2.0", "--reason", "superseded")
        watch.observe("deprecate", STEPS["deprecate"])
        yield project, watch.seen
    finally:
        watch.close()


@pytest.mark.parametrize("step", list(STEPS))
def test_every_reader_names_the_same_version(history, step):
    _, seen = history
    result = seen[step]
    for stage, expected in STEPS[step].items():
        got = result["stages"][stage]
        assert got["ours"] == expected, (stage, got)
        assert got["gto"] == expected, (stage, got)
        assert got["dvc"] == [expected], (stage, got)  # dvc artifacts get wrote exactly that version's bytes
        assert got["load_model"] == expected, (stage, got)
        assert got["load_model_commit"] == got["version_commit"]
        assert got["predictions_match"] and got["probe_size"] > 0


@pytest.mark.parametrize("step", list(STEPS))
def test_gto_sees_every_stage_holder_we_see(history, step):
    result = history[1][step]
    assert result["gto_all"] == result["ours_all"]
    holders = result["show"]["holders"]
    for stage in ("staging", "canary", "production"):
        assert holders[stage] == result["ours_all"][stage]


def test_versions_behave_differently(history):
    """Otherwise comparing predictions could not tell the versions apart."""
    _, seen = history
    fingerprints = {seen[step]["stages"][stage]["load_model"]: tuple(seen[step]["stages"][stage]["fingerprint"])
                    for step in seen for stage in seen[step]["stages"]}
    assert set(fingerprints) == {"v0.1.0", "v0.2.0", "v0.3.0"}
    assert len(set(fingerprints.values())) == 3


def test_tagger_times_strictly_increase(history):
    project, seen = history
    times = tag_times(project)
    assert len({t for t, _ in times}) == len(times), times
    # the burst's tags were stamped from one frozen second and still come out ordered after it
    before = seen["canary_to_production"]["tag_times"]
    burst = [entry for entry in seen["same_second"]["tag_times"] if entry not in before]
    assert len(burst) >= 3, burst  # rollback: production + deprecated; then production again
    assert burst[0][0] > before[-1][0]


def test_canary_is_live_only_while_it_differs_from_production(history):
    _, seen = history
    assert seen["canary"]["show"]["canary_live"] is True
    assert seen["canary_to_production"]["show"]["canary_live"] is False
    assert seen["same_second"]["show"]["canary_live"] is False


def test_the_history_mixes_unsigned_tags_and_tags_git_verifies(history):
    project, _ = history
    out = git(project, "for-each-ref", "--format=%(refname:strip=2) %(if)%(contents:signature)%(then)signed%(end)",
              f"refs/tags/{FAMILY}*")
    rows = [line.split() for line in out.splitlines()]
    signed = [row[0] for row in rows if row[1:] == ["signed"]]
    unsigned = [row[0] for row in rows if row[1:] == []]
    assert len(signed) >= 10 and {f"{FAMILY}@v0.1.0", f"{FAMILY}@v0.2.0"} <= set(unsigned)
    assert f"{FAMILY}@v0.3.0" in signed
    allowed = project.parent / "allowed_signers"
    for tag in signed:
        checked = verify_tag(project, tag, allowed)
        assert checked.returncode == 0 and "alice@example.com" in checked.stderr, (tag, checked.stderr)
