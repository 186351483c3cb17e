"""A fresh bake's family conf carries a `rollout:` policy that `dvc repro` composes into
params.yaml and `model-registry rollout` reads."""

from __future__ import annotations

import yaml

from vml_testkit.registry import registry

FAMILY = "cultivar"


def test_the_rollout_policy_reaches_params_and_the_command(reproduced):
    params = yaml.safe_load((reproduced / "params.yaml").read_text())
    assert params["families"][FAMILY]["rollout"] == {"soak": "30m", "min_requests": 100, "min_outcomes": 50}
    from versioned_ml_registry.lifecycle.rollout import family_policy

    policy = family_policy(str(reproduced), FAMILY)
    assert (policy.soak, policy.min_requests, policy.min_outcomes, policy.alpha) == (1800.0, 100, 50, 0.01)
    done = registry(reproduced, "rollout", FAMILY, "--server", "http://127.0.0.1:9", check=False)
    assert done.returncode == 2 and done.stderr.startswith("error: cannot read http://127.0.0.1:9/v1/models/")
    assert len(done.stderr.splitlines()) == 1
