"""A canary under a steady synthetic load with true outcomes: the served registry of
:mod:`.serving` with one more version of ``cultivar`` (an equal model, or one trained on
shuffled labels), a rollout policy in params.yaml, traffic whose true labels are known, and
``POST /v1/feedback`` for every answer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from .evidence import FEATURES, make_data, record
from .serving import FAMILY, Client, release_bundle, write_bundle

POLICY = {"soak": "0s", "min_requests": 40, "min_outcomes": 40}


def add_canary(root: Path, *, shuffle: bool = False, seed: int = 5) -> str:
    """Release one more cultivar version (shuffled labels: a truly worse model; else an equal
    one trained on another sample), put it in staging and canary; its version."""
    import versioned_ml_registry as reg

    write_bundle(root, FAMILY, seed=seed, shuffle=shuffle)
    record(root, "feat: a canary candidate")
    version = release_bundle(root, FAMILY)
    reg.promote(str(root), FAMILY, version, "staging")
    reg.promote(str(root), FAMILY, version, "canary")
    return version


def set_policy(root: Path, policy: dict | None = None) -> None:
    """Write the family's ``rollout:`` policy into params.yaml (as `dvc repro` composes it)."""
    params = yaml.safe_load((root / "params.yaml").read_text()) or {}
    params.setdefault("families", {}).setdefault(FAMILY, {})["rollout"] = dict(POLICY if policy is None else policy)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def traffic(port: int, n: int, seed: int, feedback: bool = True) -> dict:
    """``n`` one-record requests (sticky keys, so the canary gets its share), each followed by
    its true outcome unless ``feedback`` is off; how many each route answered."""
    import numpy as np

    X, y = make_data(n=n - n % 3 + 3, seed=seed)
    order = np.random.default_rng(seed).permutation(len(y))
    X, y = X[order], y[order]
    client = Client(port)
    routes: dict = {}
    try:
        for index in range(n):
            record_ = {name: round(float(value), 3) for name, value in zip(FEATURES, X[index])}
            status, headers, body = client.predict(FAMILY, [record_], key=f"{seed}-{index}")
            assert status == 200, body
            route = headers["x-model-route"]
            routes[route] = routes.get(route, 0) + 1
            if feedback:
                status, _, answer = client.request("POST", "/v1/feedback",
                                                   {"request_id": body["request_id"], "outcome": str(y[index])})
                assert status == 200 and answer["recorded"] == 1, answer
    finally:
        client.close()
    return routes


def rollout(root: Path, port: int, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "versioned_ml_registry", "rollout", FAMILY, "--server",
                           f"http://127.0.0.1:{port}", *options], cwd=root, capture_output=True, text=True)
