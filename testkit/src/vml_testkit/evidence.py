"""Real bundles (written through the bundle contract) in real git + DVC repositories."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from .git import output

PYTHON_BIN = Path(sys.executable).parent
DVC = str(PYTHON_BIN / "dvc") if (PYTHON_BIN / "dvc").exists() else "dvc"


FEATURES = ["alcohol", "malic_acid", "proline"]


def make_data(labels=("barbera", "barolo", "grignolino"), n=60, seed=0):
    """Three well separated clusters: small refits keep every probe prediction."""
    import numpy as np

    rng = np.random.default_rng(seed)
    centers = np.array([[12.0, 1.0, 500.0], [14.0, 3.0, 1000.0], [13.0, 5.0, 1500.0]])
    X, y = [], []
    for index, label in enumerate(labels):
        X.append(centers[index % 3] + rng.normal(0, [0.2, 0.2, 30.0], size=(n // 3, 3)))
        y += [label] * (n // 3)
    return np.vstack(X), np.array(y)


def write_bundle(root: Path, family: str = "cultivar", *, C: float = 1.0, seed: int = 0,
                 labels=("barbera", "barolo", "grignolino"), features=FEATURES,
                 description: str = "test model", metrics=None, flip: int = 0,
                 task: str = "classification", profile: bool = False, shuffle: bool = False) -> Path:
    """A real bundle written through the bundle contract (skops pipeline, signature,
    fingerprint, card; with ``profile``, profile.json of the training records and the
    predictions on the probe records).

    ``flip`` changes that many probe predictions (by training on relabelled points), to
    produce a behaviour change. ``shuffle`` trains on shuffled labels: a model truly worse.
    """
    import numpy as np
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from versioned_ml_registry.bundle import build_profile, make_signature, predict, save_model

    X, y = make_data(labels, seed=seed)
    if shuffle:
        y = np.random.default_rng(seed).permutation(y)
    columns = [FEATURES.index(f) if f in FEATURES else 0 for f in features]
    X = X[:, columns]
    probe_X, _ = make_data(labels, n=30, seed=99)
    probe_X = probe_X[:, columns]
    classes = sorted(labels)
    pipeline = Pipeline([("impute", SimpleImputer()), ("scale", StandardScaler()),
                         ("model", LogisticRegression(C=C, max_iter=500))])
    if task == "regression":
        from sklearn.linear_model import Ridge

        pipeline.steps[-1] = ("model", Ridge(alpha=C))
        y = X @ np.arange(1.0, X.shape[1] + 1)  # a numeric target
        labels = None
    if flip:
        # Train the first `flip` probe records in as the next class, strongly weighted.
        extra_X = np.repeat(probe_X[:flip], 20, axis=0)
        probe_pred = pipeline.fit(X, y).predict(probe_X[:flip])
        extra_y = np.repeat([classes[(classes.index(p) + 1) % len(classes)] for p in probe_pred], 20)
        X = np.vstack([X, extra_X])
        pipeline.fit(X, np.concatenate([y, extra_y]))
    else:
        pipeline.fit(X, y)
    bundle = root / "models" / family
    bundle.mkdir(parents=True, exist_ok=True)
    save_model(pipeline, bundle / "model.skops")
    signature = make_signature(task, [{"name": f, "type": "numeric"} for f in features], family, labels)
    probe = [{name: round(float(value), 3) for name, value in zip(features, row)} for row in probe_X]
    predictions = predict(pipeline, signature, probe)
    card = {"family": family, "description": description, "intended_use": "tests",
            "limitations": "synthetic", "data_version": {"data/raw/wine.csv": "x"},
            "preprocessing": {"src/pkg/features.py": "y"}, "params": {"C": C},
            "metrics": metrics if metrics is not None else {"accuracy": 0.95},
            "requirements": {"python": "3.11", "packages": {"scikit-learn": "1.9.1"}}}
    for name, value in (("signature.json", signature), ("card.json", card),
                        ("fingerprint.json", {"probe": probe, "predictions": predictions})):
        (bundle / name).write_text(json.dumps(value, indent=2, sort_keys=True) + "\n")
    if profile:
        training = [dict(zip(features, map(float, row))) for row in X]
        (bundle / "profile.json").write_text(json.dumps(build_profile(training, signature, predictions, task),
                                                        indent=2, sort_keys=True) + "\n")
    return bundle


DVC_YAML = """\
stages:
  prepare:
    cmd: python src/pkg/prepare.py
    deps: [data/raw/wine.csv, src/pkg/prepare.py]
    outs: [data/prepared.csv]
  package:
    cmd: python src/pkg/package.py
    deps: [data/prepared.csv, src/pkg/package.py, src/pkg/features.py]
    params: [model.C]
    outs: [models/cultivar]
  other:
    cmd: python src/pkg/other.py
    deps: [src/pkg/other.py]
    outs: [models/other]
artifacts:
  cultivar:
    path: models/cultivar
    type: model
"""

PARAMS = """\
model:
  C: 1.0
registry:
  agreement_threshold: 0.99
  metric_tolerance: 0.01
  gates:
    candidate:
      accuracy: 0.9
"""


def init_repo(base: Path) -> Path:
    """A git + DVC repo at base/proj with a local remote at base/remote (an absolute path: DVC
    resolves a relative one against the cwd of a push at a revision, not the repository)."""
    root = base / "proj"
    (base / "remote").mkdir(parents=True, exist_ok=True)
    root.mkdir(parents=True)
    output(root, "git", "init", "-q", "-b", "main")
    output(root, "git", "config", "user.email", "test@example.com")
    output(root, "git", "config", "user.name", "Test")
    output(root, "git", "config", "commit.gpgsign", "false")
    output(root, "git", "config", "tag.gpgsign", "false")
    output(root, DVC, "init", "-q")
    output(root, DVC, "remote", "add", "-d", "local", str((base / "remote").resolve()))
    output(root, DVC, "config", "core.analytics", "false")
    for path, text in {
        "data/raw/wine.csv": "a,b\n1,2\n",
        "src/pkg/prepare.py": "# prepare\n",
        "src/pkg/package.py": "# package\n",
        "src/pkg/features.py": "# features\n",
        "src/pkg/other.py": "# other\n",
        "data/prepared.csv": "a,b\n1,2\n",
        "dvc.yaml": DVC_YAML,
        "params.yaml": PARAMS,
        "conf/config.yaml": "model: {C: 1.0}\n",
        "README.md": "test repo\n",
    }.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    (root / "models" / "other").mkdir(parents=True)
    (root / "models" / "other" / "x.txt").write_text("other\n")
    return root


def record(root: Path, message: str, *, push: bool = True) -> str:
    """``dvc commit`` the stages (no run), push, git commit; returns the commit sha."""
    output(root, DVC, "commit", "-f", "-q")
    if push:
        output(root, DVC, "push", "-q")
    output(root, "git", "add", "-A")
    output(root, "git", "commit", "-q", "--allow-empty", "-m", message)
    return output(root, "git", "rev-parse", "HEAD").strip()


def tag(root: Path, name: str, commit: str, body: str = "") -> None:
    output(root, "git", "tag", "-a", name, commit, "-m", f"Registering {name}\n\n{body}")


def lock_md5(root: Path, path: str = "models/cultivar", rev: str | None = None) -> str:
    import yaml

    text = (root / "dvc.lock").read_text() if rev is None else output(root, "git", "show", f"{rev}:dvc.lock")
    for stage in yaml.safe_load(text)["stages"].values():
        for out in stage.get("outs", []):
            if out["path"] == path:
                return out["md5"]
    raise KeyError(path)


class Released:
    def __init__(self, version: str, commit: str, tag: str):
        import semver

        self.version = semver.Version.parse(version)
        self.commit = commit
        self.tag = tag


def copy_registry(base: Path, target: Path) -> Path:
    """A full copy of a repository built by ``init_repo`` under ``base`` (repository, DVC cache and
    remote, git remote, without temp folders or earlier copies); returns the copy's repository."""
    shutil.copytree(base, target, symlinks=True, ignore=shutil.ignore_patterns("tmp", "site-cache", "copy*"))
    # the copy's own remote, in the git-ignored local config: the committed one stays as it is
    (target / "proj" / ".dvc" / "config.local").write_text(
        f"['remote \"local\"']\n    url = {(target / 'remote').resolve()}\n")
    return target / "proj"
