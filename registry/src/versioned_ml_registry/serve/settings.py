"""Serving settings: command-line options win over params.yaml's ``serving:``, which wins over
the defaults below. Every setting is optional::

    serving:
      families: [cultivar]      # default: every family in the repository
      host: 127.0.0.1
      port: 8000
      follow: local             # or remote: `git fetch` the families' tags from `remote` first
      remote: origin
      interval: 1.0             # seconds between two reads of the tags
      ledger: .model-registry/ledger.sqlite   # relative to the repository; or a mapping:
      # ledger: {path: .model-registry/ledger.sqlite, durable: true, commit_timeout: 30}
      #   durable: answer after the row is on disk; commit_timeout: seconds before such an answer is a 503
      store_inputs: true        # false: the ledger keeps only each input's sha256
      canary_percent: 10        # or per family: {cultivar: 20, default: 10}
      body_timeout: 30          # seconds a request body may take to arrive (then 408)
      header_timeout: 10        # seconds a request's headers may take to arrive (then 408, closed)
      auth:
        predict: false          # true: predict and infer need the token too (serve.auth)
      require_signed: false     # true: never serve a holder whose stage tag fails the authority policy
      workers: 0                # N: decide large bodies in N worker processes (serve.workers)
      worker_min_bytes: 65536   # the size from which a body is large
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Dict, List, Mapping, Optional

from ..dvc.files import read_params
from ..errors import RegistryError
from .auth import TOKEN_ENV, TOKEN_FILE_ENV, check_exposure, load_token
from .validation import Limits

FOLLOW_MODES = ("local", "remote")  # where the follower reads the tags: local refs or the git remote

DEFAULT_LEDGER = ".model-registry/ledger.sqlite"
DEFAULT_CANARY_PERCENT = 10.0
# Off: benchmarks/serving.py measured p50 1.12x to 1.38x of the fast ledger at 8 clients (2 CPUs),
# over the 1.2x that would make it the default; `--durable-ledger` or `ledger: {durable: true}`.
DURABLE_BY_DEFAULT = False
DEFAULT_MIN_BYTES = 64 * 1024  # a body this large or larger goes to a worker process, when there are workers


@dataclass
class ServeSettings:
    toplevel: str
    families: List[str]
    host: str = "127.0.0.1"
    port: int = 8000
    follow: str = "local"
    remote: str = "origin"
    interval: float = 1.0
    ledger: Path = Path(DEFAULT_LEDGER)
    durable_ledger: bool = DURABLE_BY_DEFAULT
    commit_timeout: float = 30.0
    workers: int = 0
    worker_min_bytes: int = DEFAULT_MIN_BYTES
    store_inputs: bool = True
    canary_percent: Dict[str, float] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    token: Optional[str] = field(default=None, repr=False)  # serve.auth: from the environment only
    protect_predict: bool = False
    require_signed: bool = False


def params_serving(toplevel: str) -> dict:
    """params.yaml's ``serving:`` mapping in the working tree (empty when absent)."""
    serving = read_params(toplevel).get("serving")
    if serving is not None and not isinstance(serving, dict):
        raise RegistryError("params.yaml: serving must be a mapping")
    return serving or {}


def _percent(value, where: str) -> float:
    try:
        percent = float(value)
    except (TypeError, ValueError):
        raise RegistryError(f"{where}: canary percent {value!r} is not a number") from None
    if isinstance(value, bool) or not 0 <= percent <= 100:
        raise RegistryError(f"{where}: canary percent {value!r} must be a number from 0 to 100")
    return percent


def canary_percents(families: List[str], configured, options: List[str]) -> Dict[str, float]:
    """Each family's canary percent: ``--canary-percent N`` or ``FAMILY=N``, then params.yaml
    (a number, or ``{family: N, default: N}``), then 10."""
    if configured is None:
        configured = {}
    if not isinstance(configured, dict):
        configured = {"default": configured}
    default = _percent(configured.get("default", DEFAULT_CANARY_PERCENT), "params.yaml serving.canary_percent")
    chosen = {name: _percent(configured.get(name, default), f"params.yaml serving.canary_percent.{name}")
              for name in families}
    for option in options or []:
        name, sep, value = str(option).rpartition("=")
        if not sep:
            chosen = {family: _percent(value, "--canary-percent") for family in families}
        elif name not in chosen:
            raise RegistryError(f"--canary-percent {option}: {name!r} is not a served family "
                                f"({', '.join(families)})")
        else:
            chosen[name] = _percent(value, "--canary-percent")
    return chosen


def _choose(name: str, option, conf: dict, default, kind):
    """The option, else params.yaml's value, else ``default``, refused unless it is a ``kind``
    (a whole number for int, any number for float; never a boolean for either)."""
    value = option if option is not None else conf.get(name, default)
    if kind is bool:
        if not isinstance(value, bool):
            raise RegistryError(f"serving setting {name} must be true or false, not {value!r}")
        return value
    if kind is str:
        if not isinstance(value, str):
            raise RegistryError(f"serving setting {name} must be a string, not {value!r}")
        return value
    wanted = (int,) if kind is int else (int, float)
    if isinstance(value, bool) or not isinstance(value, wanted):
        what = "a whole number" if kind is int else "a number"
        raise RegistryError(f"serving setting {name} must be {what}, not {value!r}")
    return kind(value)


def serve_settings(toplevel: str, known_families: List[str], families: Optional[List[str]] = None,
                   host: Optional[str] = None, port: Optional[int] = None, follow: Optional[str] = None,
                   remote: Optional[str] = None, interval: Optional[float] = None,
                   ledger: Optional[str] = None, store_inputs: Optional[bool] = None,
                   canary_percent: Optional[List[str]] = None, insecure: bool = False,
                   durable_ledger: Optional[bool] = None, require_signed: Optional[bool] = None,
                   workers: Optional[int] = None, environ: Optional[Mapping[str, str]] = None) -> ServeSettings:
    """The settings for serving ``toplevel``: the options given (None: not given) over
    params.yaml over the defaults. ``known_families``: the families the repository has."""
    conf = params_serving(toplevel)
    chosen = families or conf.get("families") or known_families
    if not isinstance(chosen, list) or not all(isinstance(name, str) for name in chosen):
        raise RegistryError("serving setting families must be a list of family names")
    if not chosen:
        raise RegistryError("no model family to serve: this repository has no <family>@v<semver> tags yet")
    unknown = [name for name in chosen if name not in known_families]
    if unknown:
        raise RegistryError(f"unknown family {unknown[0]!r} (known: {', '.join(known_families) or 'none'})")
    settings = ServeSettings(
        toplevel=toplevel, families=list(dict.fromkeys(chosen)),
        host=_choose("host", host, conf, "127.0.0.1", str),
        port=_choose("port", port, conf, 8000, int),
        follow=_choose("follow", follow, conf, "local", str),
        remote=_choose("remote", remote, conf, "origin", str),
        interval=_choose("interval", interval, conf, 1.0, float),
        store_inputs=_choose("store_inputs", store_inputs, conf, True, bool),
        require_signed=_choose("require_signed", require_signed, conf, False, bool),
    )
    if settings.follow not in FOLLOW_MODES:
        raise RegistryError(f"serving setting follow must be one of {', '.join(FOLLOW_MODES)}, not {settings.follow!r}")
    if not 0.05 <= settings.interval <= 3600:
        raise RegistryError(f"serving setting interval must be from 0.05 to 3600 seconds, not {settings.interval}")
    if not 0 <= settings.port <= 65535:
        raise RegistryError(f"serving setting port {settings.port} is not a TCP port")
    body_seconds = _choose("body_timeout", None, conf, Limits().body_seconds, float)
    if not 0.1 <= body_seconds <= 3600:
        raise RegistryError(f"serving setting body_timeout must be from 0.1 to 3600 seconds, not {body_seconds}")
    header_seconds = _choose("header_timeout", None, conf, Limits().header_seconds, float)
    if not 0.1 <= header_seconds <= 3600:
        raise RegistryError(f"serving setting header_timeout must be from 0.1 to 3600 seconds, not {header_seconds}")
    settings.limits = replace(settings.limits, body_seconds=body_seconds, header_seconds=header_seconds)
    settings.ledger = ledger_path(toplevel, ledger, conf)
    settings.durable_ledger = ledger_durable(durable_ledger, conf)
    settings.commit_timeout = commit_timeout(conf)
    settings.workers = _choose("workers", workers, conf, 0, int)
    if not 0 <= settings.workers <= 64:
        raise RegistryError(f"serving setting workers must be from 0 to 64 processes, not {settings.workers}")
    settings.worker_min_bytes = _choose("worker_min_bytes", None, conf, DEFAULT_MIN_BYTES, int)
    if not 0 <= settings.worker_min_bytes <= settings.limits.max_bytes:
        raise RegistryError(f"serving setting worker_min_bytes must be from 0 to {settings.limits.max_bytes} "
                            f"(the body limit), not {settings.worker_min_bytes}")
    settings.canary_percent = canary_percents(settings.families, conf.get("canary_percent"), canary_percent)
    settings.token = load_token(os.environ if environ is None else environ)
    settings.protect_predict = auth_predict(conf.get("auth"))
    if settings.protect_predict and settings.token is None:
        raise RegistryError(f"serving setting auth.predict is true but no token is set: set {TOKEN_ENV} or {TOKEN_FILE_ENV}")
    check_exposure(settings.host, settings.token, insecure)
    return settings


def auth_predict(configured) -> bool:
    """params.yaml's ``serving.auth.predict`` (default false)."""
    if configured is None:
        return False
    if not isinstance(configured, dict) or set(configured) - {"predict"}:
        raise RegistryError("serving setting auth must be a mapping with only predict: true or false")
    value = configured.get("predict", False)
    if not isinstance(value, bool):
        raise RegistryError(f"serving setting auth.predict must be true or false, not {value!r}")
    return value


def _ledger_conf(conf: dict) -> dict:
    """params.yaml's ``serving.ledger``: a path, or ``{path: ..., durable: ...}``."""
    configured = conf.get("ledger", DEFAULT_LEDGER)
    if isinstance(configured, str):
        configured = {"path": configured}
    if not isinstance(configured, dict) or set(configured) - {"path", "durable", "commit_timeout"}:
        raise RegistryError("serving setting ledger must be a path, or a mapping with path, durable and commit_timeout")
    path = configured.get("path", DEFAULT_LEDGER)
    if not isinstance(path, str) or not path:
        raise RegistryError("serving setting ledger must be a path")
    return {"path": path, "durable": configured.get("durable", DURABLE_BY_DEFAULT),
            "commit_timeout": configured.get("commit_timeout", 30.0)}


def commit_timeout(conf: dict) -> float:
    """params.yaml's ``serving.ledger.commit_timeout``: how long a durable answer waits for its row."""
    value = _ledger_conf(conf)["commit_timeout"]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.1 <= value <= 3600:
        raise RegistryError(f"serving setting ledger.commit_timeout must be from 0.1 to 3600 seconds, not {value!r}")
    return float(value)


def ledger_durable(option: Optional[bool], conf: dict) -> bool:
    """``--durable-ledger`` / ``--fast-ledger``, else params.yaml's ``serving.ledger.durable``
    (default: ``DURABLE_BY_DEFAULT``)."""
    value = option if option is not None else _ledger_conf(conf)["durable"]
    if not isinstance(value, bool):
        raise RegistryError(f"serving setting ledger.durable must be true or false, not {value!r}")
    return value


def ledger_path(toplevel: Optional[str], option: Optional[str], conf: Optional[dict] = None) -> Path:
    """``--ledger`` (relative to the current directory), else params.yaml's ``serving.ledger``
    (relative to the repository), else ``.model-registry/ledger.sqlite`` in the repository."""
    if option is not None:
        return Path(option).absolute()
    if toplevel is None:
        raise RegistryError("name the ledger with --ledger PATH (or run inside the repository)")
    if conf is None:
        conf = params_serving(toplevel)
    return Path(toplevel) / _ledger_conf(conf)["path"]
