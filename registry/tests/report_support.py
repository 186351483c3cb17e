"""A registry with several families, releases, promotions, a live canary, a rollback and a
gate, for the report tests."""

from __future__ import annotations

from pathlib import Path

from registry_support import FakeProposal, commit, make_repo, write_release

import versioned_ml_registry as reg

HOSTILE = "<script>alert('x')</script> & more"


def released(repo: Path, family: str, metrics: dict, data: str) -> str:
    commit(repo, f"feat: train {family}")
    fake = FakeProposal(family)
    fake.provenance = dict(fake.provenance, metrics=metrics, data_version={"data/raw": data})
    return write_release(str(repo), family, fake).version


def to_production(repo: Path, family: str, version: str) -> None:
    reg.promote(str(repo), family, version, "staging", reason="QA sign-off")
    reg.promote(str(repo), family, version, "production", reason="better model")


def build_registry(path: Path) -> dict:
    """``{family: [versions]}`` of a repository where intent was rolled back (with a reason
    that is HTML) and has a live canary, churn has a production gate, fraud only candidates."""
    repo = make_repo(path)
    commit(repo, "chore: gates", {"params.yaml": "families:\n  churn:\n    registry:\n      gates:\n"
                                                  "        production:\n          rmse: {max: 12}\n"})
    intent = [released(repo, "intent", {"accuracy": 0.90, "f1": 0.88}, "a" * 32)]
    to_production(repo, "intent", intent[0])
    intent.append(released(repo, "intent", {"accuracy": 0.93, "f1": 0.9}, "b" * 32))
    to_production(repo, "intent", intent[1])
    reg.rollback(str(repo), "intent", reason=HOSTILE)
    intent.append(released(repo, "intent", {"accuracy": 0.95, "f1": 0.91}, "c" * 32))
    reg.promote(str(repo), "intent", intent[2], "staging", reason="QA")
    reg.promote(str(repo), "intent", intent[2], "canary", reason="try it on 10%")
    churn = [released(repo, "churn", {"rmse": 11.0}, "d" * 32)]
    to_production(repo, "churn", churn[0])
    churn.append(released(repo, "churn", {"rmse": 10.2}, "e" * 32))
    fraud = [released(repo, "fraud", {"auc": 0.8}, "f" * 32)]
    return {"repo": repo, "families": {"intent": intent, "churn": churn, "fraud": fraud}}
