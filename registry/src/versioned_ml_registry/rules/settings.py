"""A family's registry settings from params.yaml: thresholds for the bump rules and gates.

``registry:`` at the top of params.yaml applies to every family; ``families.<name>.registry``
(when present) overrides it for one family.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ..dvc.files import read_params
from ..errors import RegistryError

DEFAULT_AGREEMENT = 0.99
DEFAULT_TOLERANCE = 0.01
DEFAULT_PREDICTION_TOLERANCE = 0.01  # regression: relative difference of a probe prediction
DEFAULT_PROBABILITY_TOLERANCE = 0.1  # classification: how far a probe record's class probability may move


@dataclass
class Settings:
    agreement_threshold: float = DEFAULT_AGREEMENT
    metric_tolerance: object = DEFAULT_TOLERANCE  # a number, or {metric: number, default: number}
    prediction_tolerance: float = DEFAULT_PREDICTION_TOLERANCE
    probability_tolerance: float = DEFAULT_PROBABILITY_TOLERANCE
    gates: dict = field(default_factory=dict)  # stage -> {metric: spec}
    params: dict = field(default_factory=dict)  # the whole composed params.yaml


def _mapping(value, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RegistryError(f"params.yaml: {where} must be a mapping")
    return value


def load_settings(toplevel: str, family: str, rev: Optional[str] = None) -> Settings:
    """The settings of ``family`` in the working tree (``rev=None``) or at ``rev``."""
    params = read_params(toplevel, rev)
    registry = dict(_mapping(params.get("registry"), "registry"))
    family_conf = _mapping(_mapping(params.get("families"), "families").get(family), f"families.{family}")
    registry.update(_mapping(family_conf.get("registry"), f"families.{family}.registry"))
    try:
        agreement = float(registry.get("agreement_threshold", DEFAULT_AGREEMENT))
        tolerance = registry.get("metric_tolerance", DEFAULT_TOLERANCE)
        tolerance = ({str(k): float(v) for k, v in tolerance.items()} if isinstance(tolerance, dict)
                     else float(tolerance))
        prediction = float(registry.get("prediction_tolerance", DEFAULT_PREDICTION_TOLERANCE))
        probability = float(registry.get("probability_tolerance", DEFAULT_PROBABILITY_TOLERANCE))
    except (TypeError, ValueError, AttributeError) as exc:
        raise RegistryError(f"params.yaml: registry thresholds must be numbers ({exc})") from None
    if agreement > 1:  # written as a percentage (99) rather than a fraction (0.99)
        agreement /= 100
    return Settings(agreement, tolerance, prediction, probability,
                    _mapping(registry.get("gates"), "registry.gates"), params)
