"""Where stage changes are sent: ``registry/webhooks.yaml`` in the working tree::

    endpoints:
      - url: https://hooks.example.com/model-registry
        secret_env: MODEL_REGISTRY_WEBHOOK_SECRET   # or secret_file: path (relative to the repository)
        families: [wine]                            # optional: every family when absent
        stages: [production, canary]                # optional: every stage when absent
    retry:
      attempts: 6        # tries per event and endpoint, the first one included
      backoff: 2         # seconds before the first retry, doubled after each failure ...
      max_backoff: 300   # ... up to this many seconds
      timeout: 10        # seconds one request may take

No file (or no endpoint) means no webhooks. Anything malformed is one RegistryError line naming
the file and the key. The secret is read only when an event is sent, so the file names where it
is and never holds it.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..errors import RegistryError
from ..tags.names import DEFAULT_STAGES, validate_family

CONFIG_FILE = "registry/webhooks.yaml"
TOP_KEYS = ("endpoints", "retry")
ENDPOINT_KEYS = ("url", "secret_env", "secret_file", "families", "stages")
RETRY_LIMITS = {"attempts": (1, 50), "backoff": (0, 3600), "max_backoff": (0, 86400), "timeout": (0.1, 300)}


@dataclass(frozen=True)
class Retry:
    attempts: int = 6
    backoff: float = 2.0
    max_backoff: float = 300.0
    timeout: float = 10.0

    def delay(self, failed: int) -> float:
        """Seconds to wait after the ``failed``-th failed attempt (1, 2, ...) before the next."""
        return min(self.backoff * 2 ** (failed - 1), self.max_backoff)


@dataclass(frozen=True)
class Endpoint:
    url: str
    secret_env: str | None = None
    secret_file: str | None = None
    families: tuple[str, ...] | None = None
    stages: tuple[str, ...] | None = None

    def wants(self, family: str, stage: str) -> bool:
        return (self.families is None or family in self.families) and (self.stages is None or stage in self.stages)

    @property
    def key(self) -> str:
        """What the outbox records deliveries under: a digest, since the URL may hold a token."""
        return hashlib.sha256(self.url.encode("utf-8")).hexdigest()[:16]

    @property
    def shown(self) -> str:
        """The URL for logs and listings: without credentials or query, which may hold a token."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}{parts.path}"

    def secret(self, toplevel: str) -> str:
        """The secret as configured (RegistryError when it is not there)."""
        if self.secret_env is not None:
            value = os.environ.get(self.secret_env, "")
            if not value.strip():
                raise RegistryError(f"the secret of {self.shown} is not set: export {self.secret_env}")
            return value.strip()
        path = os.path.join(toplevel, os.path.expanduser(self.secret_file))
        try:
            with open(path, encoding="utf-8") as handle:
                value = handle.read().strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise RegistryError(f"cannot read the secret of {self.shown} from {path}: "
                                f"{getattr(exc, 'strerror', None) or exc}") from None
        if not value:
            raise RegistryError(f"the secret file of {self.shown} ({path}) is empty")
        return value


@dataclass(frozen=True)
class Webhooks:
    endpoints: tuple[Endpoint, ...]
    retry: Retry

    def targets(self, family: str, stage: str) -> list[Endpoint]:
        return [endpoint for endpoint in self.endpoints if endpoint.wants(family, stage)]


def path_in(toplevel: str) -> str:
    return os.path.join(toplevel, CONFIG_FILE)


def configured(toplevel: str) -> bool:
    """Whether the repository has a webhooks file at all (it may still be malformed)."""
    return os.path.isfile(path_in(toplevel))


def load(toplevel: str) -> Webhooks | None:
    """The settings in :data:`CONFIG_FILE`; None when there is no such file."""
    try:
        with open(path_in(toplevel), encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise RegistryError(f"cannot read {CONFIG_FILE}: {exc}") from None
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RegistryError(f"{CONFIG_FILE} does not parse ({str(exc).splitlines()[0]})") from None
    return parse(data)


def _unknown(data: dict, allowed, where: str) -> None:
    unknown = sorted(str(key) for key in data if key not in allowed)
    if unknown:
        raise RegistryError(f"{where}: unknown key {unknown[0]!r} (expected {', '.join(allowed)})")


def _names(value, where: str, check) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise RegistryError(f"{where} must be a non-empty list of names")
    for name in value:
        check(name)
    return tuple(value)


def _family(where: str):
    def check(name: str) -> None:
        try:
            validate_family(name)
        except RegistryError as exc:
            raise RegistryError(f"{where}: {exc}") from None
    return check


def _stage(where: str):
    def check(name: str) -> None:
        if name not in DEFAULT_STAGES:
            raise RegistryError(f"{where}: {name!r} is not a stage (expected one of {', '.join(DEFAULT_STAGES)})")
    return check


def _text(value, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RegistryError(f"{where} must be a non-empty string")
    return value.strip()


def _endpoint(data, where: str) -> Endpoint:
    if not isinstance(data, dict):
        raise RegistryError(f"{where} must be a mapping with url and secret_env or secret_file")
    _unknown(data, ENDPOINT_KEYS, where)
    if "url" not in data:
        raise RegistryError(f"{where} has no url")
    url = _text(data["url"], f"{where}.url")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RegistryError(f"{where}.url must be an http:// or https:// URL, not {url!r}")
    secrets = [key for key in ("secret_env", "secret_file") if data.get(key) is not None]
    if len(secrets) != 1:
        raise RegistryError(f"{where} needs exactly one of secret_env (an environment variable's name) "
                            "and secret_file (a path)")
    secret = _text(data[secrets[0]], f"{where}.{secrets[0]}")
    return Endpoint(url, secret if secrets[0] == "secret_env" else None,
                    secret if secrets[0] == "secret_file" else None,
                    _names(data.get("families"), f"{where}.families", _family(f"{where}.families")),
                    _names(data.get("stages"), f"{where}.stages", _stage(f"{where}.stages")))


def _retry(data) -> Retry:
    where = f"{CONFIG_FILE}: retry"
    if data is None:
        return Retry()
    if not isinstance(data, dict):
        raise RegistryError(f"{where} must be a mapping of {', '.join(RETRY_LIMITS)}")
    _unknown(data, tuple(RETRY_LIMITS), where)
    values = {}
    for key, value in data.items():
        low, high = RETRY_LIMITS[key]
        whole = key == "attempts"
        if isinstance(value, bool) or not isinstance(value, int if whole else (int, float)) \
                or not math.isfinite(value) or not low <= value <= high:
            kind = "a whole number" if whole else "a number of seconds"
            raise RegistryError(f"{where}.{key} must be {kind} from {low} to {high}, not {value!r}")
        values[key] = value
    return Retry(**values)


def parse(data) -> Webhooks:
    """The settings in ``data`` (the parsed YAML); RegistryError for anything malformed."""
    if data is None:  # only comments: no endpoint
        data = {}
    if not isinstance(data, dict):
        raise RegistryError(f"{CONFIG_FILE} must be a mapping with endpoints (and retry)")
    _unknown(data, TOP_KEYS, CONFIG_FILE)
    endpoints = data.get("endpoints") or []
    if not isinstance(endpoints, list):
        raise RegistryError(f"{CONFIG_FILE}: endpoints must be a list")
    parsed = tuple(_endpoint(item, f"{CONFIG_FILE}: endpoints[{i}]") for i, item in enumerate(endpoints))
    urls = [endpoint.url for endpoint in parsed]
    twice = sorted({url for url in urls if urls.count(url) > 1})
    if twice:
        raise RegistryError(f"{CONFIG_FILE}: the endpoint {twice[0]} is listed twice")
    return Webhooks(parsed, _retry(data.get("retry")))
