"""The evidence half of the registry against real git + DVC repositories (no mocks).

One repository is built per module: ``cultivar@v0.1.0`` at commit c1, then a refit with a
``feat`` commit touching the family's code (c2), then commits outside the family. Tests
that change anything work on a copy (``clone``).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile

import pytest

from vml_testkit.evidence import DVC, Released, copy_registry, init_repo, lock_md5, record, tag, write_bundle
from vml_testkit.git import output
from vml_testkit.registry import run_cli

from versioned_ml_registry.bundle import reading as bundles
from versioned_ml_registry.rules import commits
from versioned_ml_registry.dvc import files as dvcfiles
from versioned_ml_registry.dvc import store as dvcstore
from versioned_ml_registry.lifecycle import verify as integrity
from versioned_ml_registry.bundle import loading
from versioned_ml_registry.lifecycle import propose as proposal
from versioned_ml_registry.errors import RegistryError  # noqa: E402

pytestmark = pytest.mark.slow

BUNDLE = "models/cultivar"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    base = tmp_path_factory.mktemp("evrepo")
    saved = {key: os.environ.get(key) for key in ("TMPDIR", "DVC_SITE_CACHE_DIR")}
    (base / "tmp").mkdir()
    os.environ["TMPDIR"] = str(base / "tmp")
    os.environ["DVC_SITE_CACHE_DIR"] = str(base / "site-cache")
    saved_tempdir, tempfile.tempdir = tempfile.tempdir, None

    root = init_repo(base)
    write_bundle(root, C=1.0)
    c1 = record(root, "feat: first cultivar model")
    tag(root, "cultivar@v0.1.0", c1)

    write_bundle(root, C=1.05)  # weights move, predictions do not
    (root / "src/pkg/features.py").write_text("# features v2\n")
    c2 = record(root, "feat(features): scale proline\n\nLonger body.")
    (root / "README.md").write_text("changed\n")
    output(root, "git", "commit", "-qam", "feat!: README only, not the family")
    (root / "src/pkg/other.py").write_text("# other v2\n")
    output(root, "git", "commit", "-qam", "fix!: another family's code")
    yield {"base": base, "root": root, "c1": c1, "c2": c2,
           "md5_1": lock_md5(root, rev=c1), "md5_2": lock_md5(root, rev=c2)}

    tempfile.tempdir = saved_tempdir
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def released_v010(built):
    return Released("0.1.0", built["c1"], "cultivar@v0.1.0")


def test_artifact_path_and_family_paths(built):
    root = built["root"]
    assert dvcfiles.artifact_path(root, "cultivar") == BUNDLE
    with pytest.raises(RegistryError, match='no artifact "nope"'):
        dvcfiles.artifact_path(root, "nope")
    paths = commits.family_paths(root, "cultivar")
    for expected in ("conf", "data/raw/wine.csv",
                     "src/pkg/prepare.py", "src/pkg/package.py", "src/pkg/features.py"):
        assert expected in paths
    # params.yaml is composed from conf/ for every family: conf/ decides whose a change is
    assert "params.yaml" not in paths and "dvc.yaml" not in paths
    assert "src/pkg/other.py" not in paths and "README.md" not in paths


def test_a_commit_to_another_familys_conf_does_not_concern_this_family(built, tmp_path):
    root = copy_registry(built["base"], tmp_path / "copy")
    for name, text in (("conf/families/other.yaml", "x: 1\n"), ("conf/families/cultivar.yaml", "x: 2\n"),
                       ("conf/model.yaml", "shared: 1\n")):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
        output(root, "git", "add", name)
        output(root, "git", "commit", "-q", "-m", f"feat: {name}")
    head = output(root, "git", "rev-parse", "HEAD~3").strip()
    found = commits.commits_since(root, head, commits.family_paths(root, "cultivar"),
                                  commits.concerns_family("cultivar"))
    assert [message for _, message in found] == ["feat: conf/model.yaml", "feat: conf/families/cultivar.yaml"]


def test_commits_since_are_limited_to_family_paths(built):
    root = built["root"]
    found = commits.commits_since(root, built["c1"], commits.family_paths(root, "cultivar"))
    assert [sha for sha, _ in found] == [built["c2"]]
    assert found[0][1] == "feat(features): scale proline\n\nLonger body."
    everything = commits.commits_since(root, None, ["."])
    assert len(everything) == 4


def test_lock_md5s_working_tree_and_rev(built):
    root = built["root"]
    at_c1 = dvcfiles.lock_md5s(root, BUNDLE, rev=built["c1"])
    assert at_c1["md5"] == {BUNDLE: built["md5_1"]}
    now = dvcfiles.lock_md5s(root, BUNDLE)
    assert now["md5"] == {BUNDLE: built["md5_2"]} and built["md5_1"] != built["md5_2"]
    assert list(now["data_version"]) == ["data/raw/wine.csv"]
    assert "src/pkg/features.py" in now["preprocessing"]
    assert now["preprocessing"]["src/pkg/features.py"] != at_c1["preprocessing"]["src/pkg/features.py"]


def test_read_bundle_at_old_rev_through_the_dvc_cache(built):
    root = built["root"]
    old = bundles.read_bundle_at(root, built["c1"], BUNDLE)
    new = bundles.read_bundle_from_workspace(root, BUNDLE)
    assert old.card["params"] == {"C": 1.0} and new.card["params"] == {"C": 1.05}
    assert old.model_md5 != new.model_md5
    assert dvcstore.manifest_md5(old.files) == built["md5_1"]


def test_read_bundle_at_falls_back_to_the_remote(built, tmp_path):
    root = copy_registry(built["base"], tmp_path / "copy")
    shutil.rmtree(root / ".dvc" / "cache", onerror=_force_remove)
    old = bundles.read_bundle_at(root, built["c1"], BUNDLE)
    assert old.card["params"] == {"C": 1.0}


def test_propose_weights_patch_raised_by_a_feat_commit(built):
    result = proposal.propose(built["root"], "cultivar", released_v010(built))
    assert result.evidence_bump == "patch"
    assert result.commit_bump == "minor"
    assert result.bump == "minor"
    assert "weights changed, probe agreement 100.0%" in result.reasons
    assert f'commit {built["c2"][:7]} "feat(features): scale proline" → minor' in result.reasons
    assert not any("README" in reason or "another family" in reason for reason in result.reasons)
    assert result.identical_to is None
    assert result.provenance["md5"] == {BUNDLE: built["md5_2"]}
    assert result.provenance["path"] == BUNDLE
    assert result.gates_passed and result.gate_report == ["accuracy 0.95 (≥ 0.9)"]
    assert result.next_version == "v0.2.0"
    report = proposal.format_report(result)
    assert report.startswith("cultivar: MINOR → v0.2.0 (released: v0.1.0)")


def test_propose_on_the_command_line_prints_the_same_proposal(built):
    text = run_cli(built["root"], "propose", "cultivar")
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith("cultivar: MINOR → v0.2.0 (released: v0.1.0)")
    data = json.loads(run_cli(built["root"], "propose", "cultivar", "--json").stdout)
    assert (data["bump"], data["next_version"]) == ("minor", "v0.2.0")


def test_commits_never_lower_the_evidence(built, tmp_path):
    root = copy_registry(built["base"], tmp_path / "copy")
    write_bundle(root, C=1.0, labels=("barbera", "barolo", "rose"))
    record(root, "fix: tiny", push=False)
    result = proposal.propose(root, "cultivar", released_v010(built))
    assert result.evidence_bump == "major" and result.commit_bump == "minor"  # c2's feat
    assert result.bump == "major"
    assert "labels changed: +rose -grignolino" in result.reasons


def test_identical_bundle_is_no_release(built, tmp_path):
    root = copy_registry(built["base"], tmp_path / "copy")
    output(root, "git", "checkout", "-q", built["c1"])
    output(root, DVC, "checkout", "-q")
    output(root, "git", "commit", "-q", "--allow-empty", "-m", "feat: nothing in the bundle")
    result = proposal.propose(root, "cultivar", released_v010(built))
    assert result.bump is None and result.evidence_bump is None
    assert result.identical_to == "v0.1.0"
    assert "identical to v0.1.0" in proposal.format_report(result)


def test_retraining_the_same_model_gives_identical_bytes(built, tmp_path):
    root = copy_registry(built["base"], tmp_path / "copy")
    write_bundle(root, C=1.05)  # what c2 holds, trained again in this process
    released = Released("0.1.1", built["c2"], "cultivar@v0.1.1")
    result = proposal.propose(root, "cultivar", released)
    assert result.identical_to == "v0.1.1" and result.bump is None


def test_first_release(built):
    result = proposal.propose(built["root"], "cultivar", None)
    assert result.bump == "minor" and result.identical_to is None


def test_behaviour_change_is_minor(built, tmp_path):
    root = copy_registry(built["base"], tmp_path / "copy")
    write_bundle(root, C=1.0, flip=5)  # 5 of 30 probe predictions change
    result = proposal.propose(root, "cultivar", released_v010(built))
    assert result.evidence_bump == "minor"
    assert any(reason.startswith("probe agreement ") and "< 99.0%" in reason
               for reason in result.reasons)


def test_serving_loads_the_version_bytes_not_the_working_tree(built):
    root = built["root"]
    predictor = loading.load_version(root, "cultivar", "v0.1.0", built["c1"], BUNDLE, built["md5_1"])
    assert predictor.version == "v0.1.0" and predictor.family == "cultivar"
    assert predictor.model.named_steps["model"].C == 1.0  # the working tree holds C=1.05
    labels = predictor.predict([{"alcohol": 12.0, "malic_acid": 1.0, "proline": 500.0},
                                {"alcohol": 13.0, "malic_acid": 5.0, "proline": 1500.0}])
    assert labels == ["barbera", "grignolino"]
    with pytest.raises(RegistryError, match='missing required field "proline"'):
        predictor.predict([{"alcohol": 12.0, "malic_acid": 1.0}])


def test_serving_from_the_remote_when_the_cache_is_empty(built, tmp_path):
    root = copy_registry(built["base"], tmp_path / "copy")
    shutil.rmtree(root / ".dvc" / "cache", onerror=_force_remove)
    predictor = loading.load_version(root, "cultivar", "v0.1.0", built["c1"], BUNDLE, built["md5_1"])
    assert predictor.model.named_steps["model"].C == 1.0


def test_serving_refuses_a_wrong_recorded_md5(built):
    with pytest.raises(RegistryError, match="the version tag recorded"):
        loading.load_version(built["root"], "cultivar", "v0.1.0", built["c1"], BUNDLE,
                             built["md5_2"])


def test_serving_refuses_corrupted_bytes(built, tmp_path):
    root = copy_registry(built["base"], tmp_path / "copy")
    old = bundles.read_bundle_at(root, built["c1"], BUNDLE)
    md5 = old.files["model.skops"]
    obj = root / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]
    obj.chmod(0o644)
    obj.write_bytes(b"not the model")
    with pytest.raises(RegistryError, match="refusing to load it"):
        loading.load_version(root, "cultivar", "v0.1.0", built["c1"], BUNDLE, built["md5_1"])


def test_verify_version_tags(built):
    root = built["root"]
    good = {"family": "cultivar", "version": "0.1.0", "commit": built["c1"],
            "md5": {BUNDLE: built["md5_1"]}, "tag": "cultivar@v0.1.0"}
    assert integrity.verify_version_tags(root, [good]) == []
    bad = dict(good, md5={BUNDLE: built["md5_2"]})
    problems = integrity.verify_version_tags(root, [bad])
    assert len(problems) == 1
    assert problems[0].startswith(f"cultivar@v0.1.0: tag records {built['md5_2']} for {BUNDLE}")
    class Version:  # shaped like state.VersionInfo: md5 only in the parsed annotation
        family, version, tag, commit = "cultivar", "0.1.0", "cultivar@v0.1.0", built["c1"]
        meta = {"md5": {BUNDLE: built["md5_1"]}}

    assert integrity.verify_version_tags(root, [Version()]) == []
    unknown = dict(good, md5={"models/nope": "x.dir"})
    assert "records no md5 for models/nope" in integrity.verify_version_tags(root, [unknown])[0]


def test_missing_in_remote(built, tmp_path):
    root = copy_registry(built["base"], tmp_path / "copy")
    assert dvcstore.missing_in_remote(root, built["c1"], BUNDLE) == []
    write_bundle(root, C=2.0, description="not pushed")
    c3 = record(root, "fix: unpushed", push=False)
    missing = dvcstore.missing_in_remote(root, c3, BUNDLE)
    assert any(".dir manifest" in line for line in missing)
    assert any(line.startswith(f"{BUNDLE}/model.skops") for line in missing)
    assert not any("signature.json" in line for line in missing)  # unchanged, already pushed
    output(root, DVC, "push", "-q")
    assert dvcstore.missing_in_remote(root, c3, BUNDLE) == []


def test_workspace_matches_lock(built, tmp_path):
    root = copy_registry(built["base"], tmp_path / "copy")
    output(root, DVC, "commit", "-f", "-q")  # src/pkg/other.py changed after the last record
    assert dvcstore.workspace_matches_lock(root) == []
    (root / BUNDLE / "card.json").write_text("{}\n")
    changed = dvcstore.workspace_matches_lock(root)
    assert changed and changed[0].startswith("dvc.yaml:package: changed outs: models/cultivar")


def _force_remove(function, path, _):
    os.chmod(os.path.dirname(path), stat.S_IRWXU)
    os.chmod(path, stat.S_IRWXU)
    function(path)


def _tag_version(root, family, commit, md5, signature):
    """A version tag as `release` writes it (provenance recorded), for the commit at HEAD."""
    from vml_testkit.registry import FakeProposal, write_release

    fake = FakeProposal(family, provenance={"path": f"models/{family}", "md5": {f"models/{family}": md5},
                                            "metrics": {"accuracy": 0.95}, "signature": signature})
    return write_release(str(root), family, fake).version


def test_the_api_refuses_production_while_the_artifacts_are_not_in_the_dvc_remote(built, tmp_path):
    import json

    import versioned_ml_registry as reg

    root = copy_registry(built["base"], tmp_path / "copy")
    output(root, DVC, "commit", "-f", "-q")
    write_bundle(root, C=3.0, description="not pushed yet")
    commit = record(root, "fix: retrain", push=False)
    signature = json.loads((root / BUNDLE / "signature.json").read_text())
    version = _tag_version(root, "cultivar", commit, lock_md5(root), signature)
    reg.promote(str(root), "cultivar", version, "staging")
    before = output(root, "git", "for-each-ref", "refs/tags")
    with pytest.raises(RegistryError, match="not in the DVC remote.*run `dvc push` first"):
        reg.promote(str(root), "cultivar", version, "production", force=True, reason="force never skips it")
    assert output(root, "git", "for-each-ref", "refs/tags") == before
    output(root, DVC, "push", "-q")
    reg.promote(str(root), "cultivar", version, "production")
    assert reg.resolve(str(root), "cultivar", "production") == version


def test_a_regression_bundle_loads_through_the_registry(built, tmp_path):
    import json

    import versioned_ml_registry as reg

    root = copy_registry(built["base"], tmp_path / "copy")
    output(root, DVC, "commit", "-f", "-q")
    write_bundle(root, C=0.5, task="regression")
    commit = record(root, "feat: regression model")
    signature = json.loads((root / BUNDLE / "signature.json").read_text())
    assert signature["task"] == "regression" and signature["output"]["type"] == "number"
    version = _tag_version(root, "cultivar", commit, lock_md5(root), signature)
    model = reg.load_model("cultivar", version=version, repo=str(root))
    assert model.task == "regression" and model.version == version
    fingerprint = json.loads((root / BUNDLE / "fingerprint.json").read_text())
    predictions = model.predict(fingerprint["probe"][:5])
    assert all(isinstance(value, float) for value in predictions)
    assert predictions == fingerprint["predictions"][:5]
    assert model.matches_fingerprint()


def test_a_gto_registered_version_is_served_through_dvc_yamls_artifact_path(built, tmp_path):
    import versioned_ml_registry as reg

    root = copy_registry(built["base"], tmp_path / "copy")
    output(root, "git", "tag", "-a", "cultivar@v0.7.0", built["c1"], "-m", "Registering artifact cultivar version v0.7.0")
    model = reg.load_model("cultivar", version="v0.7.0", repo=str(root))
    assert model.md5 == built["md5_1"] and model.model.named_steps["model"].C == 1.0
    output(root, "git", "tag", "-a", "other@v0.1.0", built["c1"], "-m", "Registering artifact other")
    with pytest.raises(RegistryError, match=r"records no artifact \(a GTO-registered version\?\) and dvc.yaml"):
        reg.load_model("other", version="v0.1.0", repo=str(root))
