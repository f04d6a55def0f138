"""Standard Webhooks signatures (https://www.standardwebhooks.com), pure functions.

A secret is ``whsec_`` + base64 of 24 to 64 random bytes. A delivery carries three headers:
``webhook-id`` (stable per delivery across retries: the receiver's idempotency key),
``webhook-timestamp`` (Unix seconds of this attempt: receivers refuse old ones against replay) and
``webhook-signature``, space-separated ``v1,<base64 HMAC-SHA256 over "id.timestamp.body">`` for each
secret that is valid now (two during a rotation's overlap, so receivers on either secret verify).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets as _secrets
from collections.abc import Sequence

__all__ = ["SECRET_PREFIX", "generate_secret", "message_id", "secret_key", "sign", "signed_headers"]

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


def generate_secret() -> str:
    """A new signing secret: ``whsec_`` + base64 of 32 random bytes (the spec allows 24–64)."""
    return SECRET_PREFIX + base64.b64encode(_secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def secret_key(secret: str) -> bytes:
    """The HMAC key a ``whsec_…`` secret stands for; ValueError when it is not one."""
    if not isinstance(secret, str) or not secret.startswith(SECRET_PREFIX):
        raise ValueError("a webhook secret starts with 'whsec_'")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except ValueError as exc:
        raise ValueError("a webhook secret is 'whsec_' followed by base64") from exc
    if not 24 <= len(key) <= 64:
        raise ValueError("a webhook secret holds 24 to 64 bytes")
    return key


def sign(msg_id: str, timestamp: int, body: bytes, secrets: Sequence[str]) -> str:
    """The ``webhook-signature`` value: one ``v1,<signature>`` per secret, space-separated."""
    if not secrets:
        raise ValueError("a webhook needs at least one signing secret")
    content = f"{msg_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1," + base64.b64encode(hmac.new(secret_key(s), content, hashlib.sha256).digest()).decode("ascii")
        for s in secrets
    )


def signed_headers(msg_id: str, timestamp: int, body: bytes, secrets: Sequence[str]) -> dict[str, str]:
    """The three Standard Webhooks headers for one attempt."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp)),
        "webhook-signature": sign(msg_id, int(timestamp), body, secrets),
    }


def message_id(dedupe_key: str, target_key: object) -> str:
    """``msg_…``: the same for every attempt of one delivery (notification × endpoint), different
    for every other, so a receiver can drop a redelivery it already processed."""
    digest = hashlib.sha256(f"{dedupe_key}\x00{target_key}".encode()).digest()[:18]
    return "msg_" + base64.b32encode(digest).decode("ascii").rstrip("=").lower()
