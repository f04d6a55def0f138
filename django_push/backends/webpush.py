"""Web Push (RFC 8030) with aes128gcm encryption (RFC 8291) and VAPID (RFC 8292).

Encryption is ``http_ece`` (the library pywebpush uses), with a fresh ephemeral key per message as
RFC 8291 requires; VAPID tokens are signed by ``py_vapid``. Nothing cryptographic is written here.
The VAPID header is cached per push-service origin while it has more than an hour left. Every
endpoint is checked against the allow-list again at send time, so a bad row is never contacted.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import threading
import time
from typing import Any, ClassVar

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from django_push.backends.base import REQUIRED
from django_push.backends.http import HTTPBackend, retry_after_seconds
from django_push.backends.payload import WEBPUSH_PLAINTEXT_LIMIT, dumps, webpush_payload
from django_push.backends.priorities import for_priority
from django_push.backends.webpush_declarative import (
    PAYLOAD_FORMATS,
    declarative_payload,
    is_secure_url,
    use_declarative,
)
from django_push.backends.webpush_endpoints import AllowedHost, origin, parse_allowed_hosts, validate_endpoint
from django_push.conf import push_settings
from django_push.exceptions import InvalidTarget, PayloadTooLarge, PushAuthError, PushConfigurationError
from django_push.message import PushMessage, Target
from django_push.results import DeliveryStatus, SendResult

MAX_VAPID_EXPIRATION = 24 * 3600
VAPID_RENEW_MARGIN = 3600  # a cached VAPID header with less than an hour left is replaced
TOPIC_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
SUBJECT_RE = re.compile(r"^(mailto:[^@\s]+@[^@\s]+|https://[^\s/]+(/\S*)?)$")


def _b64url_decode(value: str) -> bytes:
    value = value.strip()
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def load_vapid(private_key: str) -> Any:
    """A py_vapid key from a base64url raw 32-byte key, a PEM string, or base64 DER."""
    from py_vapid import Vapid02

    key = private_key.strip() if isinstance(private_key, str) else ""
    if not key:
        raise ValueError("the key is empty")
    if key.startswith("-----BEGIN"):
        vapid = Vapid02(serialization.load_pem_private_key(key.encode(), password=None))
    else:
        try:
            vapid = Vapid02.from_string(key)
        except (binascii.Error, ValueError, TypeError) as exc:
            raise ValueError(f"not a base64url raw P-256 key nor PEM ({exc})") from exc
    if not isinstance(vapid.private_key, ec.EllipticCurvePrivateKey) or vapid.private_key.curve.name != (
        "secp256r1"
    ):
        raise ValueError("a VAPID key must be an EC P-256 key")
    return vapid


def vapid_public_key(private_key: str) -> str:
    """The base64url uncompressed public point browsers need as ``applicationServerKey``."""
    raw = load_vapid(private_key).public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return b64url(raw)


def push_topic(collapse_key: str) -> str:
    """A Topic header value (≤ 32 URL-safe base64 characters) for any collapse key."""
    if TOPIC_RE.match(collapse_key):
        return collapse_key
    return b64url(hashlib.sha256(collapse_key.encode()).digest()[:24])


def encrypt(plaintext: bytes, p256dh: str, auth: str) -> bytes:
    """RFC 8291 aes128gcm body for one subscription; InvalidTarget when its keys are malformed."""
    import http_ece

    try:
        receiver = _b64url_decode(p256dh)
        secret = _b64url_decode(auth)
        if len(receiver) != 65 or receiver[0] != 4 or len(secret) != 16:
            raise ValueError("p256dh must be a 65-byte uncompressed P-256 point and auth 16 bytes")
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), receiver)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise InvalidTarget(f"the subscription's keys are malformed: {exc}") from exc
    ephemeral = ec.generate_private_key(ec.SECP256R1())
    return http_ece.encrypt(
        plaintext, private_key=ephemeral, dh=public, auth_secret=secret, version="aes128gcm"
    )


class WebPushBackend(HTTPBackend):
    """Web Push to browsers' push services. Options are documented in docs/webpush.md."""

    platform = "webpush"
    default_options: ClassVar[dict[str, Any]] = {
        "vapid_private_key": REQUIRED,
        "vapid_subject": REQUIRED,
        "ttl": None,
        "allowed_hosts": None,
        "vapid_expiration": 12 * 3600,
        "payload_format": "classic",
        "declarative_base_url": "",
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        o, path = self.options, self.setting_path
        if not isinstance(o["vapid_subject"], str) or not SUBJECT_RE.match(o["vapid_subject"]):
            raise PushConfigurationError(
                f"{path}['vapid_subject'] must be a contact for the push services: 'mailto:ops@example.com' "
                f"or 'https://example.com', not {o['vapid_subject']!r}"
            )
        expiration = o["vapid_expiration"]
        if not isinstance(expiration, int) or not VAPID_RENEW_MARGIN < expiration <= MAX_VAPID_EXPIRATION:
            raise PushConfigurationError(
                f"{path}['vapid_expiration'] must be more than {VAPID_RENEW_MARGIN} and at most "
                f"{MAX_VAPID_EXPIRATION} seconds (push services refuse tokens valid for over 24 hours)"
            )
        if o["ttl"] is not None and (not isinstance(o["ttl"], int) or o["ttl"] < 0):
            raise PushConfigurationError(f"{path}['ttl'] must be None (the default) or seconds >= 0")
        if o["payload_format"] not in PAYLOAD_FORMATS:
            raise PushConfigurationError(
                f"{path}['payload_format'] must be one of {', '.join(map(repr, PAYLOAD_FORMATS))} "
                f"(e.g. 'auto'), not {o['payload_format']!r}"
            )
        base = o["declarative_base_url"]
        if not isinstance(base, str) or (base and not is_secure_url(base)):
            raise PushConfigurationError(
                f"{path}['declarative_base_url'] must be '' or the site's https:// URL that relative "
                f"message URLs are joined to (e.g. 'https://example.com'), not {base!r}"
            )
        self._allowed: tuple[AllowedHost, ...] | None = None
        if o["allowed_hosts"] is not None:
            try:
                self._allowed = parse_allowed_hosts(o["allowed_hosts"])
            except PushConfigurationError as exc:
                raise PushConfigurationError(f"{path}['allowed_hosts']: {exc}") from exc
        try:
            self.vapid = load_vapid(o["vapid_private_key"])
        except Exception as exc:
            raise PushConfigurationError(
                f"{path}['vapid_private_key'] is not a usable VAPID key: {exc}"
            ) from exc
        self.public_key = b64url(
            self.vapid.public_key.public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        )
        self._vapid_headers: dict[str, tuple[str, float]] = {}
        self._vapid_lock = threading.Lock()
        self._plaintext: tuple[PushMessage, dict[bool, bytes]] | None = None
        self.clock = time.time  # the test seam for VAPID expiry

    # -- VAPID ---------------------------------------------------------------------------------------
    def vapid_header(self, audience: str) -> str:
        """``vapid t=<JWT>, k=<public key>`` for a push-service origin, reused while valid > 1 h."""
        now = self.clock()
        cached = self._vapid_headers.get(audience)
        if cached is not None and cached[1] - now > VAPID_RENEW_MARGIN:
            return cached[0]
        from py_vapid.jwt import sign

        with self._vapid_lock:
            cached = self._vapid_headers.get(audience)
            if cached is not None and cached[1] - now > VAPID_RENEW_MARGIN:
                return cached[0]
            expires = int(now) + int(self.options["vapid_expiration"])
            claims = {"aud": audience, "exp": expires, "sub": self.options["vapid_subject"]}
            value = f"vapid t={sign(claims, self.vapid.private_key)}, k={self.public_key}"
            self._vapid_headers[audience] = (value, expires)
            return value

    # -- requests ------------------------------------------------------------------------------------
    async def prepare(self, message: PushMessage) -> None:
        self._plaintext = None

    def plaintext(self, message: PushMessage, declarative: bool = False) -> bytes:
        """The JSON the browser receives, cached per batch and format: the classic payload that
        static/django_push/sw.js shows, or the declarative one (backends/webpush_declarative.py)
        that Safari shows by itself and sw.js understands too."""
        cached = self._plaintext
        if cached is None or cached[0] is not message:
            cached = self._plaintext = (message, {})
        data = cached[1].get(declarative)
        if data is None:
            if declarative:
                payload = declarative_payload(message, self.options["declarative_base_url"])
            else:
                payload = webpush_payload(message)
            data = dumps(payload)
            if len(data) > WEBPUSH_PLAINTEXT_LIMIT:
                raise PayloadTooLarge(len(data), WEBPUSH_PLAINTEXT_LIMIT, "Web Push")
            cached[1][declarative] = data
        return data

    def is_declarative(self, message: PushMessage, target: Target) -> bool:
        """Whether ``target`` gets the declarative payload (the ``payload_format`` option decides)."""
        return use_declarative(
            self.options["payload_format"], target, message, self.options["declarative_base_url"]
        )

    def ttl(self, message: PushMessage) -> int:
        """message.ttl (0 is an explicit choice), else the ``ttl`` option, else WEBPUSH_DEFAULT_TTL."""
        if message.ttl is not None:
            return int(message.ttl)
        if self.options["ttl"] is not None:
            return int(self.options["ttl"])
        return int(push_settings.WEBPUSH_DEFAULT_TTL)

    def build_request(self, message: PushMessage, target: Target) -> httpx.Request:
        try:
            endpoint = validate_endpoint(target.address, self._allowed)
        except PushConfigurationError as exc:  # a malformed WEBPUSH_ALLOWED_HOSTS entry
            raise InvalidTarget(f"cannot check the endpoint: {exc}") from exc
        if not target.p256dh or not target.auth:
            raise InvalidTarget("the Web Push subscription has no p256dh/auth keys")
        plaintext = self.plaintext(message, self.is_declarative(message, target))
        body = encrypt(plaintext, target.p256dh, target.auth)
        headers = {
            "ttl": str(self.ttl(message)),
            "urgency": for_priority(message.priority).webpush_urgency,
            "content-encoding": "aes128gcm",
            "content-type": "application/octet-stream",
        }
        if message.collapse_id:
            headers["topic"] = push_topic(message.collapse_id)
        return httpx.Request("POST", endpoint, headers=headers, content=body)

    def authorize(self, request: httpx.Request) -> SendResult | None:
        request.headers["authorization"] = self.vapid_header(origin(str(request.url)))
        return None

    # -- answers -------------------------------------------------------------------------------------
    def parse_response(self, target: Target, response: httpx.Response) -> SendResult:
        status = response.status_code
        if status in (200, 201, 202):
            return SendResult.sent(response.headers.get("location", ""), status_code=status)
        text = response.text[:300].strip() if response.content else ""
        reason = f"push service answered {status}" + (f": {text}" if text else "")

        def result(outcome: DeliveryStatus, code: str = str(status), **extra: Any) -> SendResult:
            return SendResult(outcome, error_code=code, reason=reason, status_code=status, **extra)

        if 300 <= status < 400:
            where = response.headers.get("location", "")
            reason += f" (redirect to {where!r} not followed)"
            return result(DeliveryStatus.REJECTED, "redirect")
        if status in (404, 410):
            return result(DeliveryStatus.INVALID_TOKEN)
        if status in (401, 403):
            raise PushAuthError(
                f"the push service refused our VAPID credentials ({reason}): check vapid_private_key, "
                "vapid_subject and that browsers subscribed with the matching VAPID_PUBLIC_KEY",
                reason=str(status),
                status_code=status,
            )
        if status == 413:
            return result(DeliveryStatus.REJECTED, "payload_too_large")
        if status == 429:
            return result(DeliveryStatus.THROTTLED, retry_after=retry_after_seconds(response))
        if status >= 500:
            return result(DeliveryStatus.UNAVAILABLE, retry_after=retry_after_seconds(response))
        return result(DeliveryStatus.REJECTED)

    # -- checks --------------------------------------------------------------------------------------
    def check_credentials(self, *, fetch_token: bool = False) -> str:
        """The private key parsed at construction; check it signs, and that the public key served to
        browsers (``DJANGO_PUSH["VAPID_PUBLIC_KEY"]``) is its pair. No network."""
        from py_vapid.jwt import decode, sign

        token = sign(
            {"aud": "https://push.example", "exp": int(time.time()) + 60, "sub": "mailto:a@b.c"},
            self.vapid.private_key,
        )
        decode(token, self.public_key)
        configured = str(push_settings.VAPID_PUBLIC_KEY or "").strip()
        if not configured:
            raise PushConfigurationError(
                'DJANGO_PUSH["VAPID_PUBLIC_KEY"] is empty: browsers cannot subscribe. Set it to '
                f"{self.public_key!r}, the public key of {self.setting_path}['vapid_private_key']"
            )
        if configured != self.public_key:
            raise PushConfigurationError(
                f'DJANGO_PUSH["VAPID_PUBLIC_KEY"] ({configured!r}) is not the public key of '
                f"{self.setting_path}['vapid_private_key'] ({self.public_key!r}): browsers subscribed "
                "with it cannot receive pushes signed by this private key"
            )
        subject = self.options["vapid_subject"]
        return f"VAPID key pair matches (public key {self.public_key[:12]}…); subject {subject}"
