"""Web Push (RFC 8030) with aes128gcm encryption (RFC 8291) and VAPID (RFC 8292).

Encryption is pywebpush's encoder (a fresh ephemeral key per message, as RFC 8291 requires) and
VAPID signing is py_vapid's; nothing cryptographic is written here. The VAPID header is cached per
push-service origin while it has more than an hour left. Every endpoint is checked against the
allow-list again at send time, so a bad row in the database is never contacted.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx

from ..conf import push_settings
from ..exceptions import InvalidTarget, PayloadTooLarge, PushAuthError, PushConfigurationError
from ..message import PushMessage, Target
from ..priorities import for_priority
from ..results import DeliveryStatus, SendResult
from ..webpush_endpoints import validate_endpoint
from .base import REQUIRED, HTTPBackend, retry_after_seconds

PLAINTEXT_LIMIT = 3993
MAX_VAPID_EXPIRATION = 24 * 3600
TOPIC_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


def load_vapid(private_key: str) -> Any:
    """A py_vapid key from a base64url raw key or a PEM string."""
    from py_vapid import Vapid02

    key = private_key.strip()
    if key.startswith("-----BEGIN"):
        return Vapid02.from_pem(key.encode())
    return Vapid02.from_raw(key.encode())


def vapid_public_key(private_key: str) -> str:
    """The base64url uncompressed public point browsers need as ``applicationServerKey``."""
    from cryptography.hazmat.primitives import serialization

    raw = load_vapid(private_key).public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def push_topic(collapse_key: str) -> str:
    """A Topic header value (≤ 32 URL-safe base64 characters) for any collapse key."""
    if TOPIC_RE.match(collapse_key):
        return collapse_key
    return base64.urlsafe_b64encode(hashlib.sha256(collapse_key.encode()).digest()[:24]).decode()


class WebPushBackend(HTTPBackend):
    platform = "webpush"
    default_options: ClassVar[dict[str, Any]] = {
        "vapid_private_key": REQUIRED,
        "vapid_subject": REQUIRED,
        "ttl": None,
        "allowed_hosts": None,
        "vapid_expiration": 12 * 3600,
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        subject = str(self.options["vapid_subject"])
        if not (subject.startswith("mailto:") or subject.startswith("https://")):
            raise PushConfigurationError(
                f"{self.setting_path}['vapid_subject'] must start with 'mailto:' or 'https://', "
                f"not {subject!r}"
            )
        if not 0 < int(self.options["vapid_expiration"]) <= MAX_VAPID_EXPIRATION:
            raise PushConfigurationError(f"{self.setting_path}['vapid_expiration'] must be 1..86400 seconds")
        self._vapid: Any = None
        self._vapid_headers: dict[str, tuple[str, float]] = {}

    @property
    def vapid(self) -> Any:
        if self._vapid is None:
            try:
                self._vapid = load_vapid(self.options["vapid_private_key"])
            except Exception as exc:
                raise PushConfigurationError(
                    f"{self.setting_path}['vapid_private_key'] is not a valid VAPID key: {exc}"
                ) from exc
        return self._vapid

    def vapid_header(self, origin: str) -> str:
        now = time.time()
        cached = self._vapid_headers.get(origin)
        if cached is not None and cached[1] - now > 3600:
            return cached[0]
        expires = int(now) + int(self.options["vapid_expiration"])
        header = self.vapid.sign({"aud": origin, "exp": expires, "sub": self.options["vapid_subject"]})
        value = header["Authorization"]
        self._vapid_headers[origin] = (value, expires)
        return value

    def plaintext(self, message: PushMessage) -> bytes:
        payload: dict[str, Any] = {"title": message.title, "body": message.body}
        for key in ("icon", "image", "url"):
            if getattr(message, key):
                payload[key] = getattr(message, key)
        if message.collapse_key:
            payload["tag"] = message.collapse_key
        if message.data:
            payload["data"] = message.data
        payload.update(message.overrides.get("webpush", {}))
        return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()

    def build_request(self, message: PushMessage, target: Target) -> httpx.Request:
        from pywebpush import WebPusher

        endpoint = validate_endpoint(target.address, self.options["allowed_hosts"])
        if not target.p256dh or not target.auth:
            raise InvalidTarget("the Web Push subscription has no p256dh/auth keys")
        data = self.plaintext(message)
        if len(data) > PLAINTEXT_LIMIT:
            raise PayloadTooLarge(len(data), PLAINTEXT_LIMIT, "Web Push")
        try:
            pusher = WebPusher({"endpoint": endpoint, "keys": {"p256dh": target.p256dh, "auth": target.auth}})
            body = pusher.encode(data, content_encoding="aes128gcm")["body"]
        except Exception as exc:  # malformed keys in the database: this target only
            raise InvalidTarget(f"cannot encrypt for this subscription: {exc}") from exc
        parts = urlsplit(endpoint)
        ttl = message.ttl if message.ttl is not None else self.options["ttl"]
        if ttl is None:
            ttl = push_settings.WEBPUSH_DEFAULT_TTL
        headers = {
            "ttl": str(int(ttl)),
            "urgency": for_priority(message.priority).webpush_urgency,
            "content-encoding": "aes128gcm",
            "content-type": "application/octet-stream",
            "authorization": self.vapid_header(f"{parts.scheme}://{parts.netloc}"),
        }
        if message.collapse_key:
            headers["topic"] = push_topic(message.collapse_key)
        return httpx.Request("POST", endpoint, headers=headers, content=body)

    def parse_response(self, target: Target, response: httpx.Response) -> SendResult:
        status = response.status_code
        text = response.text[:300] if response.content else ""
        if status in (200, 201, 202):
            return SendResult.sent(response.headers.get("location", ""), status_code=status)
        reason = f"push service answered {status}: {text}".strip(": ")
        if status in (404, 410):
            return SendResult(
                DeliveryStatus.INVALID_TOKEN, error_code=str(status), reason=reason, status_code=status
            )
        if status in (401, 403):
            raise PushAuthError(
                f"the push service refused our VAPID credentials: {reason}",
                reason=str(status),
                status_code=status,
            )
        if status == 429:
            return SendResult(
                DeliveryStatus.THROTTLED,
                error_code="429",
                reason=reason,
                retry_after=retry_after_seconds(response),
                status_code=status,
            )
        if status >= 500:
            return SendResult(
                DeliveryStatus.UNAVAILABLE,
                error_code=str(status),
                reason=reason,
                retry_after=retry_after_seconds(response),
                status_code=status,
            )
        return SendResult(DeliveryStatus.REJECTED, error_code=str(status), reason=reason, status_code=status)
