"""A registry with several families, releases, promotions, a live canary, a rollback and a
gate, for the report tests."""

from __future__ import annotations

from pathlib import Path

from .git import commit
from .registry import make_repo, release, to_production

HOSTILE = "<script>alert('x')</script> & more"


def _trained(repo: Path, family: str, metrics: dict, data: str) -> str:
    """A release of ``family`` with these metrics and this raw data version."""
    return release(repo, family, message=f"feat: train {family}",
                   provenance={"metrics": metrics, "data_version": {"data/raw": data}})


def _reviewed_to_production(repo: Path, family: str, version: str) -> None:
    to_production(repo, family, version, staging_reason="QA sign-off", reason="better model")


def build_registry(path: Path) -> dict:
    """``{family: [versions]}`` of a repository where intent was rolled back (with a reason
    that is HTML) and has a live canary, churn has a production gate, fraud only candidates."""
    import versioned_ml_registry as reg

    repo = make_repo(path)
    commit(repo, "chore: gates", {"params.yaml": "families:\n  churn:\n    registry:\n      gates:\n"
                                                  "        production:\n          rmse: {max: 12}\n"})
    intent = [_trained(repo, "intent", {"accuracy": 0.90, "f1": 0.88}, "a" * 32)]
    _reviewed_to_production(repo, "intent", intent[0])
    intent.append(_trained(repo, "intent", {"accuracy": 0.93, "f1": 0.9}, "b" * 32))
    _reviewed_to_production(repo, "intent", intent[1])
    reg.rollback(str(repo), "intent", reason=HOSTILE)
    intent.append(_trained(repo, "intent", {"accuracy": 0.95, "f1": 0.91}, "c" * 32))
    reg.promote(str(repo), "intent", intent[2], "staging", reason="QA")
    reg.promote(str(repo), "intent", intent[2], "canary", reason="try it on 10%")
    churn = [_trained(repo, "churn", {"rmse": 11.0}, "d" * 32)]
    _reviewed_to_production(repo, "churn", churn[0])
    churn.append(_trained(repo, "churn", {"rmse": 10.2}, "e" * 32))
    fraud = [_trained(repo, "fraud", {"auc": 0.8}, "f" * 32)]
    return {"repo": repo, "families": {"intent": intent, "churn": churn, "fraud": fraud}}
