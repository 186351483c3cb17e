"""Who may call the server: one shared bearer token.

The token comes from the environment, never the command line (where ``ps`` shows it to every
user): ``MODEL_REGISTRY_TOKEN``, or ``MODEL_REGISTRY_TOKEN_FILE`` naming a file that holds it
(a mounted secret). With a token, the admin endpoints (``/v1/reload`` and the V2 repository
extension) require ``Authorization: Bearer <token>``, and so do ``predict`` and ``infer`` when
params.yaml says ``serving: {auth: {predict: true}}``. The comparison is constant-time.

Without a token the server listens only on loopback, unless ``--insecure`` says otherwise.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from pathlib import Path
from typing import Mapping, Optional

from ..errors import RegistryError

TOKEN_ENV = "MODEL_REGISTRY_TOKEN"
TOKEN_FILE_ENV = "MODEL_REGISTRY_TOKEN_FILE"
MIN_LENGTH = 16
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="model-registry"'}


def load_token(environ: Mapping[str, str] = os.environ) -> Optional[str]:
    """The configured token, or None; RegistryError for a token that cannot be used."""
    token, where = environ.get(TOKEN_ENV), TOKEN_ENV
    path = environ.get(TOKEN_FILE_ENV)
    if path:
        if token is not None:
            raise RegistryError(f"set {TOKEN_ENV} or {TOKEN_FILE_ENV}, not both")
        try:
            token, where = Path(path).read_text(encoding="utf-8").strip(), f"{TOKEN_FILE_ENV} ({path})"
        except (OSError, UnicodeDecodeError) as exc:
            raise RegistryError(f"{TOKEN_FILE_ENV}: cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    if token is None:
        return None
    if (len(token) < MIN_LENGTH or not token.isascii() or not token.isprintable()
            or any(c.isspace() for c in token)):
        raise RegistryError(f"{where}: the token must be at least {MIN_LENGTH} printable ASCII characters without "
                            "spaces (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)")
    return token


def problem(authorization: Optional[str], token: str) -> Optional[str]:
    """Why a request's ``Authorization`` header is refused (one line), or None when it holds the token."""
    if not authorization:
        return "this endpoint needs the server's token: send Authorization: Bearer <token>"
    scheme, _, given = authorization.partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return "send the token as Authorization: Bearer <token>"
    if not hmac.compare_digest(given.strip().encode("utf-8", "replace"), token.encode("utf-8")):
        return "the token is not valid"
    return None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, token: Optional[str], insecure: bool) -> None:
    """Refuse to listen beyond loopback with no token, unless ``insecure``."""
    if token is None and not insecure and not is_loopback(host):
        raise RegistryError(f"refusing to listen on {host} without a token: set {TOKEN_ENV} or {TOKEN_FILE_ENV}, "
                            "or pass --insecure to serve anyone who can reach it")
