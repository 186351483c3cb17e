"""The bump rules of DESIGN section 4 on real baked repositories (issue 3, item 9).

Every test starts from the same released project (`cultivar@v0.1.0` on the baked default
project), makes one change, runs the real `dvc repro`, commits, and asks the real
`model-registry propose --json` / `release` which version the evidence derives. Changes shared
by several tests (the card edit, the behaviour change) are reproduced once per module and
copied, so each test still owns its repository.

0.y.z policy (versioned_ml_registry.rules.bump.next_version): a MAJOR derived while the family is below 1.0.0 goes to
the next minor, so a MAJOR from v0.1.0 is written as v0.2.0 with `bump: major` recorded.
"""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import pytest
import yaml

from vml_testkit.bake import copy_project
from vml_testkit.git import commit_all, git, run, tag_refs, tag_yaml
from vml_testkit.registry import registry

pytestmark = pytest.mark.slow

FAMILY = "cultivar"
MODEL_CONF = Path("conf/model/logistic_regression.yaml")
FAMILY_CONF = Path(f"conf/families/{FAMILY}.yaml")  # the family's data, features, card
RAW = Path(f"data/raw/{FAMILY}.csv")


# ---- the shared starting points ------------------------------------------------------------


@pytest.fixture(scope="module")
def released(reproduced, tmp_path_factory):
    """The default project with its first model committed and released as v0.1.0."""
    project = copy_project(reproduced, tmp_path_factory.mktemp("bumps") / "wine-cultivar")
    commit_all(project, "feat: first model")
    out = registry(project, "release", FAMILY).stdout
    assert "v0.1.0" in out, out
    assert versions(project) == ["v0.1.0"]
    return project


def _prepared(released, tmp_path_factory, name, change) -> Path:
    project = copy_project(released, tmp_path_factory.mktemp(name) / "wine-cultivar")
    change(project)
    run(project, "dvc", "repro")
    return project


@pytest.fixture(scope="module")
def card_edited(released, tmp_path_factory):
    """Only the model card's text changed, reproduced, not committed (PATCH evidence)."""
    return _prepared(released, tmp_path_factory, "card", lambda p: set_yaml(
        p / FAMILY_CONF, "card.description", "Cultivar classifier for the Piedmont wine lab."))


@pytest.fixture(scope="module")
def behaviour_changed(released, tmp_path_factory):
    """model.C 1.0 -> 0.001: the predictions change (MINOR evidence), not committed."""
    return _prepared(released, tmp_path_factory, "behaviour", lambda p: set_yaml(p / MODEL_CONF, "C", 0.001))


@pytest.fixture
def project(tmp_path):
    """Copy a prepared project into this test's own folder."""
    def make(source: Path) -> Path:
        return copy_project(source, tmp_path / "wine-cultivar")
    return make


# ---- helpers ---------------------------------------------------------------------------------


def set_yaml(path: Path, key: str, value) -> None:
    """Change one key of a conf/ file, top-level or one level down (``card.description``),
    comments on other lines kept."""
    *parent, leaf = key.split(".")
    indent = "  " * len(parent)
    lines = path.read_text().splitlines()
    hits = [i for i, line in enumerate(lines) if line.startswith(f"{indent}{leaf}:")]
    assert len(hits) == 1, f"{key} not found once in {path}"
    lines[hits[0]] = f"{indent}{leaf}: {json.dumps(value)}"
    path.write_text("\n".join(lines) + "\n")
    loaded = yaml.safe_load(path.read_text())
    for part in parent:
        loaded = loaded[part]
    assert loaded[leaf] == value


def versions(project: Path) -> list[str]:
    names = git(project, "tag", "-l", f"{FAMILY}@v*").split()
    return sorted(name.split("@", 1)[1] for name in names)


def propose(project: Path) -> dict:
    return json.loads(registry(project, "propose", FAMILY, "--json").stdout)


def release(project: Path, *args: str) -> str:
    """Release; check that exactly the version tag and its candidate tag appeared; return the version."""
    before = set(git(project, "tag", "-l").split())
    out = registry(project, "release", FAMILY, *args).stdout
    new = set(git(project, "tag", "-l").split()) - before
    version_tags = [t for t in new if t.startswith(f"{FAMILY}@v")]
    assert len(version_tags) == 1, (new, out)
    assert new == {version_tags[0], f"{FAMILY}#candidate#2"}, new
    version = version_tags[0].split("@", 1)[1]
    assert version in out
    # the version tag points at HEAD, annotated with GTO's first line
    assert git(project, "rev-parse", f"{version_tags[0]}^{{commit}}") == git(project, "rev-parse", "HEAD")
    first_line = git(project, "tag", "-l", "--format=%(contents)", version_tags[0]).splitlines()[0]
    assert first_line == f"Registering artifact {FAMILY} version {version}"
    return version


def assert_bump(project: Path, *, bump: str, evidence: str, commits: str | None, version: str,
                reason: str) -> dict:
    """propose --json names the bump, its evidence and commit parts and the next version;
    release writes that version with the same bump kind in its annotation."""
    proposal = propose(project)
    assert (proposal["bump"], proposal["evidence_bump"], proposal["commit_bump"]) == (bump, evidence, commits), proposal
    assert proposal["released"] == "v0.1.0" and proposal["identical_to"] is None
    assert proposal["next_version"] == version
    assert any(reason in line for line in proposal["reasons"]), proposal["reasons"]
    assert release(project) == version
    body = tag_yaml(project, f"{FAMILY}@{version}")
    assert body["bump"] == bump
    assert body["reasons"] == proposal["reasons"]
    assert body["md5"] == proposal["provenance"]["md5"]
    assert versions(project) == ["v0.1.0", version]
    return proposal


def manifest(project: Path, tag: str) -> dict:
    """{file: md5} of the bundle dvc.lock records at a version tag's commit, from the DVC cache."""
    lock = yaml.safe_load(git(project, "show", f"{tag}:dvc.lock"))
    (out,) = [o for o in lock["stages"][f"package@{FAMILY}"]["outs"] if o["path"] == f"models/{FAMILY}"]
    md5 = out["md5"]
    listing = json.loads((project / ".dvc/cache/files/md5" / md5[:2] / md5[2:]).read_text())
    assert md5 == tag_yaml(project, tag)["md5"][f"models/{FAMILY}"]  # the tag records what dvc.lock pins
    return {entry["relpath"]: entry["md5"] for entry in listing}


def cached(project: Path, md5: str) -> bytes:
    """A file's bytes from the project's DVC cache, checked against its md5."""
    data = (project / ".dvc/cache/files/md5" / md5[:2] / md5[2:]).read_bytes()
    assert hashlib.md5(data).hexdigest() == md5
    return data


def rewrite_raw(project: Path, edit) -> None:
    """Replace the family's raw CSV by ``edit(header, rows)`` and track the new version with DVC."""
    path = project / RAW
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    header, body = edit(rows[0], rows[1:])
    with path.open("w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows([header, *body])
    run(project, "dvc", "add", str(RAW))


# ---- MAJOR: the signature breaks callers ----------------------------------------------------


def drop_proline(p: Path) -> None:
    """Train without the proline input, reproduce and commit."""
    lines = (p / FAMILY_CONF).read_text().splitlines()
    (p / FAMILY_CONF).write_text("\n".join(line for line in lines if not line.strip().startswith("proline:")) + "\n")
    assert "proline" not in yaml.safe_load((p / FAMILY_CONF).read_text())["data"]["features"]
    run(p, "dvc", "repro")
    commit_all(p, "chore: train without proline")


def test_dropping_an_input_field_is_major(released, project):
    p = project(released)
    drop_proline(p)
    # 0.y.z: MAJOR evidence goes to the next minor, recorded as major
    assert_bump(p, bump="major", evidence="major", commits=None, version="v0.2.0",
                reason="inputs removed: proline")
    signature = json.loads((p / f"models/{FAMILY}/signature.json").read_text())
    assert "proline" not in [field["name"] for field in signature["inputs"]]


def test_a_version_breaking_productions_callers_needs_breaking_to_serve(released, tmp_path):
    """The production gate compares signatures with the production holder, whatever the
    version number says: canary and production refuse v0.2.0 (without proline) while v0.1.0
    serves, until `--breaking --reason`, which the tag records."""
    p = copy_project(released, tmp_path / "wine-cultivar", storage=tmp_path / "storage")
    run(p, "dvc", "push")  # production needs the artifacts in the DVC remote
    for stage in ("staging", "production"):
        registry(p, "promote", FAMILY, "v0.1.0", stage, "--reason", "qa")
    drop_proline(p)
    assert "v0.2.0" in registry(p, "release", FAMILY).stdout
    assert tag_yaml(p, f"{FAMILY}@v0.2.0")["bump"] == "major"
    run(p, "dvc", "push")
    registry(p, "promote", FAMILY, "v0.2.0", "staging", "--reason", "qa")
    before = tag_refs(p)
    for stage in ("canary", "production"):
        done = registry(p, "promote", FAMILY, "v0.2.0", stage, "--reason", "go", check=False)
        assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert "breaks the callers of production v0.1.0" in done.stderr, done.stderr
        assert "inputs removed: proline" in done.stderr and "--breaking" in done.stderr, done.stderr
    no_reason = registry(p, "promote", FAMILY, "v0.2.0", "production", "--breaking", check=False)
    assert no_reason.returncode == 2 and "--reason" in no_reason.stderr, no_reason.stderr
    assert tag_refs(p) == before, "a refused promotion wrote a tag"
    out = registry(p, "promote", FAMILY, "v0.2.0", "production", "--breaking", "--reason", "callers migrated").stdout
    assert registry(p, "resolve", FAMILY, "--stage", "production").stdout.strip() == "v0.2.0", out
    tag = git(p, "for-each-ref", "--sort=-taggerdate", "--count=1", "--format=%(refname:strip=2)",
              f"refs/tags/{FAMILY}#production#*")
    assert tag not in before and tag_yaml(p, tag)["breaking"] == {"changes": ["inputs removed: proline"], "reason": "callers migrated"}


def test_renaming_an_input_field_is_major(released, project):
    p = project(released)
    rewrite_raw(p, lambda header, rows: ([("proline_mg_l" if h == "proline" else h) for h in header], rows))
    text = (p / FAMILY_CONF).read_text()
    assert text.count("    proline: {type: numeric}\n") == 1
    (p / FAMILY_CONF).write_text(text.replace("    proline: {type: numeric}\n", "    proline_mg_l: {type: numeric}\n"))
    run(p, "dvc", "repro")
    commit_all(p, "chore: name proline with its unit")
    # inputs are matched by name: a caller sending "proline" breaks, whatever the new name
    proposal = assert_bump(p, bump="major", evidence="major", commits=None, version="v0.2.0",
                           reason="inputs removed: proline")
    assert "inputs added as required: proline_mg_l" in proposal["reasons"], proposal["reasons"]


def test_changing_the_label_set_is_major(released, project):
    p = project(released)
    before = json.loads((p / f"models/{FAMILY}/signature.json").read_text())["output"]["labels"]
    assert "barbera" in before
    rewrite_raw(p, lambda header, rows: (header, [r for r in rows if r[header.index("cultivar")] != "barbera"]))
    run(p, "dvc", "repro")
    commit_all(p, "chore: data without barbera")
    assert_bump(p, bump="major", evidence="major", commits=None, version="v0.2.0",
                reason="labels changed: -barbera")
    after = json.loads((p / f"models/{FAMILY}/signature.json").read_text())["output"]["labels"]
    assert set(after) == set(before) - {"barbera"}


# ---- MINOR: behaviour changed ------------------------------------------------------------------


def test_changing_predictions_is_minor(behaviour_changed, project):
    p = project(behaviour_changed)
    commit_all(p, "chore: regularise much harder")
    proposal = assert_bump(p, bump="minor", evidence="minor", commits=None, version="v0.2.0",
                           reason="probe agreement")
    assert any(line.startswith("probe agreement") and "< 99.0%" in line for line in proposal["reasons"])
    # the predictions on the same probe records really differ
    old = json.loads(cached(p, manifest(p, f"{FAMILY}@v0.1.0")["fingerprint.json"]))
    new = json.loads((p / f"models/{FAMILY}/fingerprint.json").read_text())
    assert old["probe"] == new["probe"] and old["predictions"] != new["predictions"]


# ---- PATCH: weights or card changed, behaviour kept ------------------------------------------


def test_retraining_within_agreement_is_patch(released, project):
    p = project(released)
    set_yaml(p / MODEL_CONF, "C", 1.1)
    run(p, "dvc", "repro")
    commit_all(p, "chore: C 1.1")
    proposal = assert_bump(p, bump="patch", evidence="patch", commits=None, version="v0.1.1",
                           reason="weights changed, probe agreement 100.0%")
    # the weights really changed, the predictions did not
    old, new = manifest(p, f"{FAMILY}@v0.1.0"), manifest(p, f"{FAMILY}@v0.1.1")
    assert old["model.skops"] != new["model.skops"]
    # (the fingerprint's class probabilities moved, within registry.probability_tolerance)
    before, after = (json.loads(cached(p, files["fingerprint.json"])) for files in (old, new))
    assert before["probe"] == after["probe"] and before["predictions"] == after["predictions"]
    assert not any("<" in line for line in proposal["reasons"])


def test_editing_only_the_card_is_patch(card_edited, project):
    p = project(card_edited)
    commit_all(p, "docs: describe the lab")
    assert_bump(p, bump="patch", evidence="patch", commits=None, version="v0.1.1",
                reason="card changed: description")
    old, new = manifest(p, f"{FAMILY}@v0.1.0"), manifest(p, f"{FAMILY}@v0.1.1")
    assert {k for k in old if old[k] != new[k]} == {"card.json"}


# ---- commits raise the bump, never lower it ------------------------------------------------


def test_feat_commit_raises_patch_evidence_to_minor(card_edited, project):
    p = project(card_edited)
    commit_all(p, "feat(card): describe the lab")
    proposal = assert_bump(p, bump="minor", evidence="patch", commits="minor", version="v0.2.0",
                           reason="commits raise the bump from patch to minor")
    assert any('"feat(card): describe the lab" → minor' in line for line in proposal["reasons"])


def test_breaking_change_footer_raises_patch_evidence_to_major(card_edited, project):
    p = project(card_edited)
    commit_all(p, "docs: describe the lab\n\nBREAKING CHANGE: consumers must read the new card")
    assert_bump(p, bump="major", evidence="patch", commits="major", version="v0.2.0",
                reason="commits raise the bump from patch to major")


# ---- refusals: nothing written --------------------------------------------------------------


def refused(project: Path, *args: str) -> str:
    """Run a release that must be refused: one `error:` line, exit 2, no tag changed."""
    before = tag_refs(project)
    done = registry(project, "release", FAMILY, *args, check=False)
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert tag_refs(project) == before
    return lines[0]


def test_nothing_changed_is_refused_naming_the_version(released, project):
    p = project(released)
    run(p, "dvc", "repro")  # every stage up to date: the bundle is the released one
    assert git(p, "status", "--porcelain") == ""
    assert propose(p)["identical_to"] == "v0.1.0"
    message = refused(p)
    assert "identical" in message and "v0.1.0" in message
    # nor does an explicit bump release the same bundle again
    assert "v0.1.0" in refused(p, "--bump", "patch")


def test_a_lower_manual_bump_needs_force_and_reason_and_is_recorded(behaviour_changed, project):
    p = project(behaviour_changed)
    commit_all(p, "chore: regularise much harder")
    assert propose(p)["bump"] == "minor"
    assert "lower" in refused(p, "--bump", "patch")
    assert "--reason" in refused(p, "--bump", "patch", "--force")
    refused(p, "--bump", "patch", "--reason", "no --force")
    assert release(p, "--bump", "patch", "--force", "--reason", "hotfix for the lab") == "v0.1.1"
    body = tag_yaml(p, f"{FAMILY}@v0.1.1")
    assert body["bump"] == "patch"
    assert body["forced"] == {"from": "minor", "reason": "hotfix for the lab"}
    assert body["evidence_bump"] == "minor"


def test_release_with_a_dirty_tree_is_refused(card_edited, project):
    p = project(card_edited)
    commit_all(p, "docs: describe the lab")
    (p / "README.md").write_text((p / "README.md").read_text() + "\nuncommitted note\n")
    assert "uncommitted" in refused(p)
    (p / "notes.txt").write_text("untracked\n")
    git(p, "checkout", "README.md")
    assert "uncommitted" in refused(p)


def test_release_with_a_stale_dvc_lock_is_refused(card_edited, project):
    p = project(card_edited)
    commit_all(p, "docs: describe the lab")
    set_yaml(p / MODEL_CONF, "C", 0.5)  # edited and committed, but never reproduced
    commit_all(p, "feat: C 0.5")
    assert git(p, "status", "--porcelain") == ""
    message = refused(p)
    assert "dvc.lock" in message and "dvc repro" in message
