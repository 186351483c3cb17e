"""The Standard Webhooks signature: ``v1,`` + base64(HMAC-SHA256(key, "<id>.<timestamp>.<body>"))
in ``webhook-signature``, beside ``webhook-id`` and ``webhook-timestamp`` (unix seconds).

A secret written ``whsec_<base64>`` (the spec's form) is base64-decoded to the key; any other
secret is used as its UTF-8 bytes. Receivers using the ``standardwebhooks`` library pass the
``whsec_`` string as it is, and a plain secret as bytes (``Webhook(secret.encode())``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from ..errors import RegistryError

PREFIX = "whsec_"


def signing_key(secret: str) -> bytes:
    if secret.startswith(PREFIX):
        encoded = secret[len(PREFIX):]
        try:
            key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except binascii.Error:
            raise RegistryError(f"a secret starting with {PREFIX} must be base64 after the prefix") from None
    else:
        key = secret.encode("utf-8")
    if not key:
        raise RegistryError("a webhook secret must not be empty")
    return key


def sign(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def headers(key: bytes, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The headers of one attempt: the id is the event's, the timestamp the attempt's."""
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(key, msg_id, timestamp, body)}
