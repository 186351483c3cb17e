"""sha256 end to end (issue 18, item 4): version tags record the sha256 of every bundle file
beside DVC's md5, and every read of a released bundle checks it: ``load_model``, serving's
verified load, ``verify --remote`` and ``diff``. Tags released before sha256 was recorded still
load, with one warning line from ``verify``. Real git and DVC; each test that changes anything
works on a copy of one module repository (``cultivar`` v0.1.0 and v0.1.1, released through
``api.release`` from real bundles, the DVC remote a local folder beside it)."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest
import yaml
from vml_testkit.evidence import copy_registry, init_repo, lock_md5, record, write_bundle
from vml_testkit.git import output
from vml_testkit.registry import run_cli

import versioned_ml_registry as reg
from versioned_ml_registry.bundle.contract import load_model_file, predict
from versioned_ml_registry.bundle.digests import recorded_sha256, sha256_problem, tag_findings
from versioned_ml_registry.bundle.loading import load_for_serving
from versioned_ml_registry.dvc.store import open_dvc_fs, read_dvc_file
from versioned_ml_registry.errors import RegistryError
from versioned_ml_registry.tags.repo import Repo

FAMILY, BUNDLE = "cultivar", "models/cultivar"


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    base = tmp_path_factory.mktemp("sha256")
    root = init_repo(base)
    write_bundle(root, C=1.0)
    record(root, "feat: first model")
    assert reg.release(str(root), FAMILY, offline=True).version == "v0.1.0"
    write_bundle(root, C=1.05)  # weights move, predictions do not: a PATCH
    record(root, "fix: refit")
    # the second release's proposal reads v0.1.0's bundle through DVC, checked against its sha256
    assert reg.release(str(root), FAMILY, offline=True).version == "v0.1.1"
    return base


def tag_message(root, version: str) -> str:
    return output(root, "git", "tag", "-l", "--format=%(contents)", f"{FAMILY}@{version}")


def rewrite_tag(root, version: str, commit: str, meta: dict) -> None:
    """Re-create a version tag with ``meta`` as its YAML body (test copies only: tags are immutable)."""
    subject = tag_message(root, version).partition("\n")[0]
    body = f"{subject}\n\n{yaml.safe_dump(meta, sort_keys=False)}"
    output(root, "git", "tag", "-f", "-a", "--cleanup=verbatim", f"{FAMILY}@{version}", commit, "-m", body)


def cache_object(root, md5: str):
    return root / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]


def remote_object(root, md5: str):
    return root.parent / "remote" / "files" / "md5" / md5[:2] / md5[2:]


@pytest.mark.slow
def test_a_release_records_the_sha256_of_every_bundle_file(base):
    root = base / "proj"
    for version in ("v0.1.0", "v0.1.1"):
        info = reg.version_info(str(root), FAMILY, version)
        meta = info["meta"]
        keys = list(meta)
        assert keys.index("sha256") == keys.index("md5") + 1  # beside the md5 DVC needs
        fs = open_dvc_fs(root, info["commit"])  # the version's bytes, as DVC stored them
        try:
            files = sorted(path.rpartition("/")[2] for path in fs.find(BUNDLE))
            actual = {name: hashlib.sha256(read_dvc_file(fs, f"{BUNDLE}/{name}")).hexdigest() for name in files}
        finally:
            fs.close()
        assert files == ["card.json", "fingerprint.json", "model.skops", "signature.json"]
        assert meta["sha256"] == actual, version
    # the body on disk: a flat mapping, file names relative to the tag's `path`
    assert f"path: {BUNDLE}\nmd5:\n  {BUNDLE}: " in tag_message(root, "v0.1.1")
    assert "\nsha256:\n  card.json: " in tag_message(root, "v0.1.1")

    # and those reads pass: load, serving's load, diff, verify
    assert reg.load_model(FAMILY, stage=None, version="v0.1.0", repo=str(root)).version == "v0.1.0"
    assert load_for_serving(Repo(str(root)), FAMILY, "v0.1.1").version == "v0.1.1"
    assert reg.diff(str(root), FAMILY, "v0.1.0", "v0.1.1")["bump"] == "patch"
    report = reg.verify(str(root), FAMILY, remote=True)
    assert (report["problems"], report["missing"], report["warnings"]) == ([], [], [])


@pytest.mark.slow
def test_a_bundle_file_swapped_for_one_with_the_same_md5_is_refused(base, tmp_path):
    """What is simulated: a chosen-prefix md5 collision, someone with write access to the DVC
    cache and remote replacing v0.1.1's ``model.skops`` and ``card.json`` by other bytes with
    the same md5. A real collision cannot be crafted in a test, and the registry re-hashes
    every file with md5 against the ``.dir`` listing, so bytes merely put at the old md5's path
    would already be refused as corrupt. So every md5 record is edited to name the new bytes,
    as a collision would make them all match:

    - the new files are stored in the DVC cache and the remote at their own md5 paths
      (``.dvc/cache/files/md5/xx/...``), and the old objects are deleted from both;
    - the ``.dir`` listing names the new md5s, and is stored at its own md5 path too;
    - dvc.lock names that ``.dir`` (a new commit), and the ``cultivar@v0.1.1`` tag is
      re-created there with its md5 edited to it.

    The tag's sha256, written at release for the original bytes, is left as it was: for every
    md5 check the swapped bytes are the released ones, and only sha256 tells them apart.
    The new model answers v0.1.1's probe set exactly as the original did, so the fingerprint
    proof would not catch it either."""
    root = copy_registry(base, tmp_path / "copy")
    released = reg.version_info(str(root), FAMILY, "v0.1.1")
    old_dir = lock_md5(root)
    old_files = {name: hashlib.md5((root / BUNDLE / name).read_bytes()).hexdigest()
                 for name in ("model.skops", "card.json")}
    fingerprint = json.loads((root / BUNDLE / "fingerprint.json").read_text())
    signature = json.loads((root / BUNDLE / "signature.json").read_text())

    other = write_bundle(tmp_path / "other", C=1.1)
    swapped = load_model_file(other / "model.skops", signature=signature)
    assert predict(swapped, signature, fingerprint["probe"]) == fingerprint["predictions"]
    shutil.copyfile(other / "model.skops", root / BUNDLE / "model.skops")
    card = json.loads((root / BUNDLE / "card.json").read_text())
    card["limitations"] = "none at all"
    (root / BUNDLE / "card.json").write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")
    commit = record(root, "chore: the swapped bytes")  # dvc commit, dvc push, git commit
    new_dir = lock_md5(root)
    for md5 in (*old_files.values(), old_dir):
        cache_object(root, md5).unlink()
        remote_object(root, md5).unlink()
    meta = dict(released["meta"], md5={BUNDLE: new_dir})
    rewrite_tag(root, "v0.1.1", commit, meta)

    actual = hashlib.sha256((root / BUNDLE / "model.skops").read_bytes()).hexdigest()
    expected = meta["sha256"]["model.skops"]
    refusal = (rf"^cultivar v0\.1\.1: {BUNDLE}/model\.skops has sha256 {actual[:12]}\.\.\., its version tag "
               rf"recorded {expected[:12]}\.\.\.; refusing it")
    with pytest.raises(RegistryError, match=refusal):
        reg.load_model(FAMILY, stage=None, version="v0.1.1", repo=str(root))
    with pytest.raises(RegistryError, match=refusal):
        load_for_serving(Repo(str(root)), FAMILY, "v0.1.1")
    with pytest.raises(RegistryError, match=rf"^cultivar v0\.1\.1: {BUNDLE}/card\.json has sha256 "):
        reg.diff(str(root), FAMILY, "v0.1.0", "v0.1.1")  # diff reads the JSON files, not the model

    shutil.rmtree(root / ".dvc" / "cache")  # the remote alone: refused the same way
    with pytest.raises(RegistryError, match=refusal):
        reg.load_model(FAMILY, stage=None, version="v0.1.1", repo=str(root))
    report = reg.verify(str(root), FAMILY, remote=True)
    swapped_lines = [line for line in report["problems"] if "sha256" in line]
    assert swapped_lines == [
        f"cultivar v0.1.1: {BUNDLE}/{name} in the DVC remote has sha256 {digest[:12]}..., its version tag "
        f"recorded {meta['sha256'][name][:12]}...; refusing it: these are not the bytes that were released"
        for name, digest in sorted((name, hashlib.sha256((root / BUNDLE / name).read_bytes()).hexdigest())
                                   for name in ("card.json", "model.skops"))]
    assert report["missing"] == []
    cli = run_cli(root, "verify", FAMILY, "--remote")
    assert cli.returncode == 1 and f"{BUNDLE}/model.skops in the DVC remote has sha256" in cli.stdout


@pytest.mark.slow
def test_an_older_tag_without_sha256_loads_and_verify_warns_once(base, tmp_path):
    root = copy_registry(base, tmp_path / "copy")
    info = reg.version_info(str(root), FAMILY, "v0.1.0")
    rewrite_tag(root, "v0.1.0", info["commit"], {k: v for k, v in info["meta"].items() if k != "sha256"})
    assert "sha256" not in reg.version_info(str(root), FAMILY, "v0.1.0")["meta"]

    assert reg.load_model(FAMILY, stage=None, version="v0.1.0", repo=str(root)).version == "v0.1.0"
    assert load_for_serving(Repo(str(root)), FAMILY, "v0.1.0").version == "v0.1.0"
    assert reg.diff(str(root), FAMILY, "v0.1.0", "v0.1.1")["bump"] == "patch"
    report = reg.verify(str(root), FAMILY, remote=True)
    assert (report["problems"], report["missing"]) == ([], [])
    assert report["warnings"] == [
        "cultivar@v0.1.0 records no sha256 (released before sha256 was recorded): its files are "
        "checked by md5 only; the family's next release pins sha256"]
    cli = run_cli(root, "verify", FAMILY, "--json")
    assert cli.returncode == 0 and json.loads(cli.stdout)["warnings"] == report["warnings"]
    plain = run_cli(root, "verify", FAMILY)
    assert plain.returncode == 0 and plain.stdout.splitlines()[-1] == f"  warning: {report['warnings'][0]}"


@pytest.mark.slow
def test_a_sha256_record_in_another_shape_is_refused_not_ignored(base, tmp_path):
    root = copy_registry(base, tmp_path / "copy")
    info = reg.version_info(str(root), FAMILY, "v0.1.0")
    rewrite_tag(root, "v0.1.0", info["commit"], dict(info["meta"], sha256="not a mapping"))
    with pytest.raises(RegistryError, match=r"^cultivar v0\.1\.0: its tag's sha256 is not a mapping"):
        reg.load_model(FAMILY, stage=None, version="v0.1.0", repo=str(root))
    assert reg.verify(str(root), FAMILY)["problems"] == [
        "cultivar@v0.1.0: its tag's sha256 is not a mapping of bundle file to 64 hex digits"]


# ---- the rules alone, without git or DVC ------------------------------------------------

class Version:
    def __init__(self, tag, meta):
        self.tag, self.meta = tag, meta


def test_recorded_sha256_shapes():
    good = {"model.skops": "a" * 64}
    assert recorded_sha256({"sha256": good}, "f v1.0.0") == good
    assert recorded_sha256({}, "f v1.0.0") is None
    assert recorded_sha256(None, "f v1.0.0") is None
    for bad in ({}, {"model.skops": "A" * 64}, {"model.skops": "a" * 63}, ["a" * 64], {"m": 1}):
        with pytest.raises(RegistryError, match="f v1.0.0: its tag's sha256 is not a mapping"):
            recorded_sha256({"sha256": bad}, "f v1.0.0")


def test_sha256_problem_lines():
    recorded = {"model.skops": "a" * 64}
    assert sha256_problem("f v1.0.0", "models/f", "model.skops", "a" * 64, recorded) is None
    assert sha256_problem("f v1.0.0", "models/f", "model.skops", "b" * 64, None) is None
    assert sha256_problem("f v1.0.0", "models/f", "model.skops", "b" * 64, recorded) == (
        "f v1.0.0: models/f/model.skops has sha256 bbbbbbbbbbbb..., its version tag recorded "
        "aaaaaaaaaaaa...; refusing it: these are not the bytes that were released")
    assert sha256_problem("f v1.0.0", "models/f", "extra.json", "b" * 64, recorded) == (
        "f v1.0.0: its tag records no sha256 for models/f/extra.json; refusing it")


def test_tag_findings_warn_only_for_released_artifacts_without_sha256():
    versions = [Version("f@v0.1.0", {"md5": {"models/f": "x.dir"}}),                         # older release
                Version("f@v0.1.1", {"md5": {"models/f": "y.dir"}, "sha256": {"m": "c" * 64}}),
                Version("f@v0.3.0", {}),                                                       # GTO's: no artifact
                Version("f@v0.4.0", {"md5": {"models/f": "z.dir"}, "sha256": "junk"})]
    problems, warnings = tag_findings(versions)
    assert problems == ["f@v0.4.0: its tag's sha256 is not a mapping of bundle file to 64 hex digits"]
    assert len(warnings) == 1 and warnings[0].startswith("f@v0.1.0 records no sha256")
