"""Loading a released version trusts exactly the skops types its version tag lists: a project
adds reviewed types per family, the tag records them, and a file cannot vouch for itself."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from vml_testkit.evidence import init_repo, record
from vml_testkit.git import git
from vml_testkit.registry import FakeProposal, write_release

import versioned_ml_registry as reg
from versioned_ml_registry.bundle import make_signature, write_bundle
from versioned_ml_registry.errors import RegistryError

SIGNATURE = make_signature("classification", [{"name": "x", "type": "numeric"}], "y", ["neg", "pos"])


def bundle_needing_a_reviewed_type(root, trusted_types):
    numbers = np.linspace(-3, 3, 60).reshape(-1, 1)
    labels = np.where(np.abs(numbers[:, 0]) > 1.5, "pos", "neg")
    model = Pipeline([("abs", FunctionTransformer(abs)), ("model", LogisticRegression())]).fit(numbers, labels)
    from versioned_ml_registry.bundle import save_model_dir

    save_model_dir(model, root / "build" / "model", SIGNATURE, trusted_types)
    write_bundle(root / "models" / "cultivar", root / "build" / "model", SIGNATURE,
                 [{"x": value} for value in (-2.0, -0.5, 0.5, 2.5)], {"metrics": {"accuracy": 1.0}},
                 trusted_types)


@pytest.mark.slow
def test_the_tag_decides_which_reviewed_types_a_load_trusts(tmp_path):
    root = init_repo(tmp_path)
    bundle_needing_a_reviewed_type(root, ["builtins.abs"])
    assert json.loads((root / "models/cultivar/flavor.json").read_text())["trusted_types"] == ["builtins.abs"]
    record(root, "feat: first model")
    released = reg.release(str(root), "cultivar", offline=True)
    body = git(root, "tag", "-l", "--format=%(contents)", f"cultivar@{released.version}")
    assert "trusted_types:\n  - builtins.abs" in body and "flavor: sklearn" in body
    model = reg.load_model("cultivar", stage=None, version=released.version, repo=str(root))
    assert model.predict([{"x": -2.5}, {"x": 0.1}]) == ["pos", "neg"]
    assert model.flavor == "sklearn"

    # The same bytes under a tag that lists no reviewed type: flavor.json cannot vouch for itself.
    git(root, "commit", "-q", "--allow-empty", "-m", "chore: a second commit")
    provenance = {"path": "models/cultivar", "md5": reg.open_repo(str(root)).family("cultivar")
                  .get(released.version).meta["md5"], "metrics": {"accuracy": 1.0}, "signature": SIGNATURE}
    stranger = write_release(str(root), "cultivar", FakeProposal("cultivar", provenance=provenance)).version
    with pytest.raises(RegistryError, match=r"cannot load .*safely: .*builtins\.abs"):
        reg.load_model("cultivar", stage=None, version=stranger, repo=str(root))
