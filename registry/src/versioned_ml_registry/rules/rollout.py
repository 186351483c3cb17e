"""Deciding a canary on evidence: the family's ``rollout:`` policy, the outcome metrics with
their uncertainty, and the decision (promote, abort or wait).

A canary is aborted only when it is worse than production **beyond noise**: each bound is a
one-sided test at level ``alpha`` (default 0.01) of "the canary is worse than production by
more than the allowed margin", using the sample sizes:

* outcome metric, classification: accuracy, two proportions (normal approximation);
* outcome metric, regression: mean squared error, Welch's z on the per-record squared errors;
* error rate: two proportions, as accuracy;
* p99 latency: a ratio with an absolute floor (p99 of a few hundred requests is noisy);
* drift: the canary's PSI against its training profile, when production's is not as high
  (both high is drift of the inputs, not the canary's fault).

Before the soak ends a bound needs stronger evidence (:func:`boundary`), so ``--watch`` looking
every few seconds does not multiply false aborts; from the soak on, equal models abort at most
at rate ``alpha`` per bound and look. A canary that is worse only within noise is promoted once
soaked, as an equal one is. A canary failing requests is aborted on its error rate even
before its outcomes arrive.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from statistics import NormalDist

from ..errors import RegistryError

PROMOTE, ABORT, WAIT = "promote", "abort", "wait"
EXIT_CODES = {PROMOTE: 0, ABORT: 3, WAIT: 4}

DEFAULTS = {"soak": "30m", "min_requests": 100, "min_outcomes": 50, "max_accuracy_drop": 0.02,
            "max_rmse_increase": 0.10, "max_error_rate_increase": 0.01, "max_p99_ratio": 2.0,
            "p99_floor_ms": 50.0, "max_psi": 0.5, "alpha": 0.01}
_DURATION = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


def seconds(text, where: str) -> float:
    """``30m``, ``1h30m``, ``45s``, ``0s`` or a number of seconds."""
    if isinstance(text, (int, float)) and not isinstance(text, bool) and text >= 0:
        return float(text)
    found = _DURATION.fullmatch(str(text).strip()) if isinstance(text, str) and text.strip() else None
    if found is None:
        raise RegistryError(f"{where}: {text!r} is not a duration (e.g. 30m, 1h30m, 45s, 0s)")
    hours, minutes, secs = (int(part or 0) for part in found.groups())
    return hours * 3600.0 + minutes * 60.0 + secs


@dataclass
class Policy:
    soak: float
    min_requests: int
    min_outcomes: int
    max_accuracy_drop: float
    max_rmse_increase: float
    max_error_rate_increase: float
    max_p99_ratio: float
    p99_floor_ms: float
    max_psi: float
    alpha: float


def parse_policy(data, where: str) -> Policy:
    """The policy in ``data`` (a family's ``rollout:`` mapping, None for the defaults)."""
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise RegistryError(f"{where} must be a mapping of {', '.join(DEFAULTS)}")
    unknown = sorted(set(map(str, data)) - set(DEFAULTS))
    if unknown:
        raise RegistryError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(DEFAULTS)})")
    values = {**DEFAULTS, **data}
    chosen = {"soak": seconds(values["soak"], f"{where}.soak")}
    for key in ("min_requests", "min_outcomes"):
        value = values[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise RegistryError(f"{where}.{key} must be a whole number >= 0, not {value!r}")
        chosen[key] = value
    for key in DEFAULTS:
        if key in chosen:
            continue
        value = values[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise RegistryError(f"{where}.{key} must be a number >= 0, not {value!r}")
        chosen[key] = float(value)
    if not 0 < chosen["alpha"] < 0.5:
        raise RegistryError(f"{where}.alpha must be between 0 and 0.5, not {chosen['alpha']}")
    return Policy(**chosen)


# ---- outcome metrics ------------------------------------------------------------------------
def wilson(successes: int, n: int, z: float = 1.96) -> list:
    if n == 0:
        return [None, None]
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [round(centre - half, 6), round(centre + half, 6)]


def outcome_metric(task: str, pairs: list) -> dict:
    """Accuracy (classification) or RMSE (regression) over per-record (prediction, outcome)
    pairs, with its 95% interval and sample size; ``sq`` keeps what the tests need."""
    n = len(pairs)
    if task == "classification":
        right = sum(str(p) == str(o) for p, o in pairs)
        return {"metric": "accuracy", "n": n, "value": right / n if n else None, "ci95": wilson(right, n),
                "successes": right}
    errors = [(float(p) - float(o)) ** 2 for p, o in pairs]
    mean = sum(errors) / n if n else None
    var = sum((e - mean) ** 2 for e in errors) / (n - 1) if n > 1 else None
    ci = [None, None]
    if var is not None:
        half = 1.96 * math.sqrt(var / n)
        ci = [round(math.sqrt(max(mean - half, 0.0)), 6), round(math.sqrt(mean + half), 6)]
    return {"metric": "rmse", "n": n, "value": math.sqrt(mean) if mean is not None else None, "ci95": ci,
            "mse": mean, "mse_var": var}


# ---- the decision -----------------------------------------------------------------------------
@dataclass
class Decision:
    kind: str
    evidence: list = field(default_factory=list)  # one line each
    why: list = field(default_factory=list)  # what decided it, or what is missing

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.kind]

    def reason(self) -> str:
        return f"rollout {self.kind}: " + "; ".join(self.why + self.evidence)


def _worse(excess: float, se: float, z: float) -> bool:
    """Whether an excess over the allowed margin is beyond noise."""
    return excess > 0 and (se == 0 or excess / se > z)


def _proportion_se(p1: float, n1: int, p2: float, n2: int) -> float:
    return math.sqrt(p1 * (1 - p1) / max(n1, 1) + p2 * (1 - p2) / max(n2, 1))


def _fmt(value, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def evidence_lines(report: dict) -> list:
    prod, canary = report["production"], report["canary"]
    lines = [f"canary {canary['version']} vs production {prod['version']} over "
             f"{report.get('soaked_seconds', 0):.0f} s"]
    for name, route in (("canary", canary), ("production", prod)):
        out = route.get("outcomes") or {}
        lat = route["latency_ms"]
        lines.append(f"{name}: {route['requests']} requests, {route['errors']} errors, p99 {_fmt(lat['p99'], 1)} ms, "
                     f"psi {_fmt(route['drift']['value'])}, flagged {_fmt(route['flags']['rate'])}, "
                     f"{out.get('metric', 'outcome')} {_fmt(out.get('value'))} "
                     f"[{_fmt((out.get('ci95') or [None])[0])}, {_fmt((out.get('ci95') or [None, None])[1])}] "
                     f"(n={out.get('n', 0)})")
    return lines


def _outcome_bound(po: dict, co: dict, policy: Policy, z: float) -> list:
    """The outcome metric's bound, when both routes have at least two outcomes."""
    if min(po.get("n", 0), co.get("n", 0)) < 2 or po.get("value") is None or co.get("value") is None:
        return []
    if po["metric"] == "accuracy":
        excess = (po["value"] - co["value"]) - policy.max_accuracy_drop
        if _worse(excess, _proportion_se(po["value"], po["n"], co["value"], co["n"]), z):
            return [f"accuracy {co['value']:.3f} is below production's {po['value']:.3f} by more than "
                    f"{policy.max_accuracy_drop} beyond noise (alpha {policy.alpha})"]
        return []
    allowed = (1 + policy.max_rmse_increase) ** 2
    se = math.sqrt(co["mse_var"] / co["n"] + po["mse_var"] * allowed ** 2 / po["n"])
    if _worse(co["mse"] - po["mse"] * allowed, se, z):
        return [f"rmse {co['value']:.4g} exceeds production's {po['value']:.4g} by more than "
                f"{policy.max_rmse_increase:.0%} beyond noise (alpha {policy.alpha})"]
    return []


def boundary(policy: Policy, soaked: float) -> float:
    """The z a bound must exceed at this look. Before the soak ends the evidence must be
    stronger (an O'Brien-Fleming-shaped boundary, z / sqrt(share of the soak elapsed)), so
    looking often (``--watch``) does not multiply false aborts; from the soak on, z at alpha."""
    z = NormalDist().inv_cdf(1 - policy.alpha)
    if policy.soak <= 0 or soaked >= policy.soak:
        return z
    return z / math.sqrt(max(soaked, 1e-9) / policy.soak)


def decide(report: dict, policy: Policy, task: str) -> Decision:
    """Promote, abort or wait on ``report`` (``GET /v1/models/{family}/rollout``)."""
    if not report.get("live"):
        return Decision(WAIT, [], ["no live canary: nothing to decide"])
    prod, canary = report["production"], report["canary"]
    soaked = report.get("soaked_seconds", 0)
    z = boundary(policy, soaked)
    evidence = evidence_lines(report)
    worse = []
    (ce, cn), (pe, pn) = [(r["errors"], r["requests"] + r["errors"]) for r in (canary, prod)]
    c_rate, p_rate = ce / max(cn, 1), pe / max(pn, 1)
    if cn >= policy.min_requests and ce and _worse(c_rate - p_rate - policy.max_error_rate_increase,
                                                   _proportion_se(c_rate, cn, p_rate, pn), z):
        worse.append(f"error rate {c_rate:.3f} is above production's {p_rate:.3f} beyond noise")
    missing = []
    if cn < policy.min_requests:
        missing.append(f"canary has {cn} of {policy.min_requests} requests")
    for name, route in (("canary", canary), ("production", prod)):
        n = (route.get("outcomes") or {}).get("n", 0)
        if n < policy.min_outcomes:
            missing.append(f"{name} has {n} of {policy.min_outcomes} outcomes")
    if missing and not worse:
        return Decision(WAIT, evidence, missing)
    if not missing:
        worse += _outcome_bound(prod.get("outcomes") or {}, canary.get("outcomes") or {}, policy, z)
        c99, p99 = canary["latency_ms"]["p99"], prod["latency_ms"]["p99"]
        if (c99 is not None and p99 is not None and c99 > policy.max_p99_ratio * p99
                and c99 - p99 > policy.p99_floor_ms):
            worse.append(f"p99 latency {c99:.1f} ms is over {policy.max_p99_ratio}x production's {p99:.1f} ms")
        c_psi, p_psi = canary["drift"]["value"], prod["drift"]["value"]
        if c_psi is not None and c_psi > policy.max_psi and (p_psi is None or p_psi <= policy.max_psi):
            worse.append(f"predictions drift from the canary's training profile (psi {c_psi:.3f} > {policy.max_psi})")
    if worse:
        return Decision(ABORT, evidence, worse)
    if soaked < policy.soak:
        return Decision(WAIT, evidence, [f"soaking: {soaked:.0f} of {policy.soak:.0f} s"])
    return Decision(PROMOTE, evidence, ["no bound broken beyond noise after the soak"])
