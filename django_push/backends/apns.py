"""Apple Push Notification service over HTTP/2, with token (JWT) or certificate authentication.

Provider tokens are shared by every backend instance in the process per (team, key): Apple refuses
more than one new token per 20 minutes (429 TooManyProviderTokenUpdates) and wants a token at most
an hour old, so one is minted and reused for ``token_ttl`` seconds (50 minutes by default). When
APNs answers 403 ExpiredProviderToken, the refused token is replaced once (not once per stream
that saw the refusal) and the target is retried once.
"""

from __future__ import annotations

import contextlib
import json
import re
import ssl
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, ClassVar

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ..exceptions import InvalidTarget, PayloadTooLarge, PushAuthError, PushConfigurationError, PushError
from ..message import APNS_PUSH_TYPES, PushMessage, Target
from ..priorities import DEFAULT_INTERRUPTION_LEVEL, for_priority
from ..results import DeliveryStatus, SendResult
from .base import REQUIRED, HTTPBackend, retry_after_seconds

PAYLOAD_LIMIT = 4096
VOIP_PAYLOAD_LIMIT = 5120
COLLAPSE_ID_LIMIT = 64
MIN_MINT_INTERVAL = 20 * 60  # Apple: at most one new provider token per 20 minutes
MAX_TOKEN_TTL = 55 * 60  # Apple refuses tokens older than an hour; keep a margin
REFUSAL_REMINT_INTERVAL = 60  # a token minted after a refusal is not replaced again sooner
DEVICE_TOKEN_RE = re.compile(r"^[0-9A-Fa-f]{8,512}$")

# apns-topic is the bundle id plus the suffix each push type requires.
TOPIC_SUFFIX = {
    "voip": ".voip",
    "complication": ".complication",
    "fileprovider": ".pushkit.fileprovider",
    "liveactivity": ".push-type.liveactivity",
    "pushtotalk": ".voip-ptt",
    "location": ".location-query",
    "widgets": ".push-type.widgets",
    "controls": ".push-type.controls",
}

# Answers that mean our credentials or configuration are wrong for every target: raise.
AUTH_HINTS = {
    "InvalidProviderToken": "the provider token's signature or claims are invalid: check team_id, key_id "
    "and that the key is the .p8 file of that key id",
    "MissingProviderToken": "no provider token and no client certificate: configure key/key_file or "
    "cert_file",
    "ExpiredProviderToken": "APNs says the provider token is expired even right after minting a new one: "
    "check this machine's clock",
    "BadCertificate": "the client certificate was refused",
    "BadCertificateEnvironment": "the client certificate is for the other environment (sandbox/production)",
    "BadEnvironmentKeyIdInToken": "the key is restricted to the other environment (sandbox/production) in "
    "the Apple developer account",
    "BadEnvironmentKeyInToken": "the key is restricted to the other environment (sandbox/production) in "
    "the Apple developer account",
    "UnrelatedKeyIdInToken": "key_id belongs to another team than team_id",
    "Forbidden": "APNs does not allow this action for these credentials",
    "TopicDisallowed": "these credentials may not push to this topic: check the topic option",
    "BadTopic": "the apns-topic is invalid: check the topic option (the app's bundle id)",
    "MissingTopic": "no apns-topic: set the topic option (the app's bundle id)",
}
INVALID_TOKEN_REASONS = frozenset(
    {"BadDeviceToken", "DeviceTokenNotForTopic", "Unregistered", "ExpiredToken"}
)


class APNsMessageError(PushError):
    """The message cannot be sent as built (e.g. a collapse id over 64 bytes): REJECTED, not sent."""

    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(message)
        self.error_code = error_code


# -- provider tokens -------------------------------------------------------------------------------
def load_signing_key(pem: str | bytes) -> ec.EllipticCurvePrivateKey:
    """The P-256 private key of an APNs auth key (.p8, PEM); ValueError says what is wrong."""
    data = pem.encode() if isinstance(pem, str) else pem
    if b"-----BEGIN" not in data:
        raise ValueError("the key is not PEM: paste the whole .p8 file, including its BEGIN/END lines")
    key = serialization.load_pem_private_key(data.strip(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError("the key is not an EC P-256 key (an APNs .p8 auth key is)")
    return key


def mint_provider_token(team_id: str, key_id: str, key: ec.EllipticCurvePrivateKey, now: float) -> str:
    """A signed provider JWT (ES256; header kid; claims iss and iat), as Apple specifies."""
    return jwt.encode({"iss": team_id, "iat": int(now)}, key, algorithm="ES256", headers={"kid": key_id})


@dataclass(slots=True)
class _CachedToken:
    token: str
    minted: float
    after_refusal: bool = False
    stale: bool = False


class _ProviderTokens:
    """Process-wide cache of APNs provider JWTs, one per (team id, key id), shared by every backend."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, str], _CachedToken] = {}
        self.mints = 0

    def get(
        self,
        team_id: str,
        key_id: str,
        key: ec.EllipticCurvePrivateKey,
        *,
        ttl: float,
        now: float,
        refused: str | None = None,
    ) -> str:
        """The current token. A new one is minted only when ours is older than ``ttl`` (and never
        within 20 minutes of the last mint), or when APNs refused exactly the cached one as expired."""
        with self._lock:
            cached = self._tokens.get((team_id, key_id))
            if cached is not None:
                age = now - cached.minted
                if refused is None:
                    if age < MIN_MINT_INTERVAL or (age < ttl and not cached.stale):
                        return cached.token
                elif cached.token != refused:
                    return cached.token  # another stream already replaced the refused token
                elif cached.after_refusal and age < REFUSAL_REMINT_INTERVAL:
                    return cached.token  # refused again at once: a clock problem, not an old token
            token = mint_provider_token(team_id, key_id, key, now)
            self._tokens[(team_id, key_id)] = _CachedToken(token, now, after_refusal=refused is not None)
            self.mints += 1
            return token

    def invalidate(self) -> None:
        """Replace every token at its next use, as soon as Apple's 20-minute limit allows."""
        with self._lock:
            for cached in self._tokens.values():
                cached.stale = True

    def clear(self) -> None:
        """Forget every token (tests; a new process starts like this)."""
        with self._lock:
            self._tokens.clear()


provider_tokens = _ProviderTokens()


def jwt_mint_count() -> int:
    """How many provider tokens this process has minted (for tests and monitoring)."""
    return provider_tokens.mints


# -- payload ---------------------------------------------------------------------------------------
def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Merge ``extra`` into ``base`` recursively (``None`` deletes a key); returns ``base``."""
    for key, value in extra.items():
        if value is None:
            base.pop(key, None)
        elif isinstance(value, dict) and isinstance(base.get(key), dict):
            deep_merge(base[key], value)
        else:
            base[key] = value
    return base


def effective_push_type(message: PushMessage) -> str:
    """The apns-push-type: "background" for a content-only message sent as the default "alert"."""
    push_type = message.push_type or "alert"
    return "background" if push_type == "alert" and message.is_background else push_type


def apns_alert(message: PushMessage) -> dict[str, Any]:
    pairs = (
        ("title", message.title),
        ("body", message.body),
        ("title-loc-key", message.title_loc_key),
        ("title-loc-args", message.title_loc_args if message.title_loc_key else None),
        ("loc-key", message.loc_key),
        ("loc-args", message.loc_args if message.loc_key else None),
    )
    return {key: value for key, value in pairs if value}


def build_aps(message: PushMessage, *, alert: bool = True) -> dict[str, Any]:
    """The ``aps`` dictionary (shared with FCM's ``apns.payload``)."""
    if effective_push_type(message) == "background":
        return {"content-available": 1}
    aps: dict[str, Any] = {}
    alert_dict = apns_alert(message) if alert else {}
    if alert_dict:
        aps["alert"] = alert_dict
    if message.badge is not None:
        aps["badge"] = message.badge
    if isinstance(message.sound, dict):
        aps["sound"] = message.sound
    elif message.sound:
        aps["sound"] = (
            {"critical": 1, "name": message.sound, "volume": 1.0}
            if message.priority == "critical"
            else message.sound
        )
    if message.thread_id:
        aps["thread-id"] = message.thread_id
    if message.category:
        aps["category"] = message.category
    if message.mutable_content:
        aps["mutable-content"] = 1
    if message.content_available:
        aps["content-available"] = 1
    level = message.interruption_level or for_priority(message.priority).apns_interruption_level
    if level != DEFAULT_INTERRUPTION_LEVEL:
        aps["interruption-level"] = level
    if message.relevance_score is not None:
        aps["relevance-score"] = message.relevance_score
    return aps


class APNsBackend(HTTPBackend):
    """APNs provider API (HTTP/2). Options are documented in docs/apns.md."""

    platform = "apns"
    default_options: ClassVar[dict[str, Any]] = {
        "team_id": None,
        "key_id": None,
        "key": None,
        "key_file": None,
        "cert_file": None,
        "cert_key_file": None,
        "cert_password": None,
        "topic": REQUIRED,
        "production_url": "https://api.push.apple.com",
        "sandbox_url": "https://api.sandbox.push.apple.com",
        "token_ttl": 3000,
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        o, path = self.options, self.setting_path
        token_auth = bool(o["key"] or o["key_file"])
        cert_auth = bool(o["cert_file"])
        if token_auth == cert_auth:
            raise PushConfigurationError(
                f"{path} needs exactly one APNs authentication: token auth ('team_id', 'key_id' and "
                "'key' or 'key_file') or certificate auth ('cert_file')"
                + (", not both" if token_auth else "")
            )
        if o["key"] and o["key_file"]:
            raise PushConfigurationError(f"{path}: give 'key' (the PEM text) or 'key_file', not both")
        if token_auth and not (o["team_id"] and o["key_id"]):
            raise PushConfigurationError(f"{path}: token authentication needs 'team_id' and 'key_id'")
        if not isinstance(o["topic"], str) or not o["topic"] or o["topic"] != o["topic"].strip():
            raise PushConfigurationError(
                f"{path}['topic'] must be the app's bundle id, e.g. 'com.example.app'"
            )
        if (
            not isinstance(o["token_ttl"], int | float)
            or not MIN_MINT_INTERVAL <= o["token_ttl"] <= MAX_TOKEN_TTL
        ):
            raise PushConfigurationError(
                f"{path}['token_ttl'] must be {MIN_MINT_INTERVAL}..{MAX_TOKEN_TTL} seconds: Apple refuses "
                "a new token more often than every 20 minutes and a token older than an hour"
            )
        self.token_auth = token_auth
        self._signing_key: ec.EllipticCurvePrivateKey | None = None
        if o["key"]:
            try:
                self._signing_key = load_signing_key(o["key"])
            except ValueError as exc:
                raise PushConfigurationError(f"{path}['key'] is not a usable APNs key: {exc}") from exc
        self._ssl_context: ssl.SSLContext | None = None
        self._encoded: tuple[PushMessage, bytes, dict[str, str]] | None = None
        self.clock = time.time  # the test seam for token ages and apns-expiration

    # -- credentials ---------------------------------------------------------------------------------
    def signing_key(self) -> ec.EllipticCurvePrivateKey:
        """The .p8 key, read from ``key_file`` on first use; PushAuthError if it is unusable."""
        if self._signing_key is None:
            path = self.options["key_file"]
            try:
                with open(path, "rb") as f:
                    self._signing_key = load_signing_key(f.read())
            except (OSError, ValueError) as exc:
                raise PushAuthError(
                    f"{self.setting_path}['key_file'] ({path}) is not a usable APNs key: {exc}",
                    reason="InvalidProviderKey",
                ) from exc
        return self._signing_key

    def provider_token(self, refused: str | None = None) -> str:
        o = self.options
        return provider_tokens.get(
            o["team_id"],
            o["key_id"],
            self.signing_key(),
            ttl=float(o["token_ttl"]),
            now=self.clock(),
            refused=refused,
        )

    def ssl_context(self) -> ssl.SSLContext | None:
        """For certificate auth: a context holding the client certificate (honours ``verify``)."""
        if self.token_auth:
            return None
        if self._ssl_context is None:
            verify = self.options["verify"]
            ctx = ssl.create_default_context(cafile=verify if isinstance(verify, str) else None)
            if verify is False:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            o = self.options
            try:
                ctx.load_cert_chain(o["cert_file"], o["cert_key_file"] or None, o["cert_password"] or None)
            except (OSError, ssl.SSLError) as exc:
                raise PushAuthError(
                    f"{self.setting_path}['cert_file'] cannot be loaded with its key: {exc}",
                    reason="BadCertificate",
                ) from exc
            self._ssl_context = ctx
        return self._ssl_context

    async def prepare(self, message: PushMessage) -> None:
        self._encoded = None
        if self.token_auth:
            # Mint before the streams start, so they share one token. A broken key is raised again
            # per target by build_request, where the base class records it.
            with contextlib.suppress(PushAuthError):
                self.provider_token()

    # -- requests ------------------------------------------------------------------------------------
    def payload(self, message: PushMessage) -> dict[str, Any]:
        """The JSON payload: ``aps``, custom data beside it, then ``overrides["apns"]`` deep-merged."""
        payload: dict[str, Any] = {"aps": build_aps(message)}
        payload.update((k, v) for k, v in message.data.items() if k != "aps")
        if message.url and "url" not in payload:
            payload["url"] = message.url
        return deep_merge(payload, message.overrides.get("apns", {}))

    def encode(self, message: PushMessage) -> tuple[bytes, dict[str, str]]:
        """The body and target-independent headers of ``message`` (cached while a batch runs)."""
        cached = self._encoded
        if cached is not None and cached[0] is message:
            return cached[1], cached[2]
        push_type = effective_push_type(message)
        if push_type not in APNS_PUSH_TYPES:
            raise APNsMessageError(
                "invalid_push_type", f"push_type {push_type!r} is not one of {', '.join(APNS_PUSH_TYPES)}"
            )
        body = json.dumps(self.payload(message), separators=(",", ":"), ensure_ascii=False).encode()
        limit = VOIP_PAYLOAD_LIMIT if push_type == "voip" else PAYLOAD_LIMIT
        if len(body) > limit:
            raise PayloadTooLarge(len(body), limit, "APNs")
        topic = self.options["topic"]
        suffix = TOPIC_SUFFIX.get(push_type, "")
        headers = {
            "apns-push-type": push_type,
            "apns-topic": topic if topic.endswith(suffix) else topic + suffix,
            "apns-priority": "5"
            if push_type == "background"
            else str(for_priority(message.priority).apns_priority),
        }
        if message.ttl is not None:
            headers["apns-expiration"] = "0" if message.ttl == 0 else str(int(self.clock()) + message.ttl)
        if message.collapse_key:
            size = len(message.collapse_key.encode())
            if size > COLLAPSE_ID_LIMIT:
                raise APNsMessageError(
                    "collapse_id_too_long",
                    f"APNs collapse id is {size} bytes, over the limit of {COLLAPSE_ID_LIMIT} bytes",
                )
            headers["apns-collapse-id"] = message.collapse_key
        self._encoded = (message, body, headers)
        return body, headers

    def build_request(self, message: PushMessage, target: Target) -> httpx.Request:
        if not DEVICE_TOKEN_RE.match(target.address):
            raise InvalidTarget("an APNs device token is 8-512 hexadecimal characters")
        body, headers = self.encode(message)
        headers = dict(headers)
        if self.token_auth:
            headers["authorization"] = f"bearer {self.provider_token()}"
        base = self.options["sandbox_url" if target.environment == "sandbox" else "production_url"]
        return httpx.Request(
            "POST", f"{base.rstrip('/')}/3/device/{target.address}", headers=headers, content=body
        )

    async def send_one(self, message: PushMessage, target: Target) -> SendResult:
        try:
            request = self.build_request(message, target)
        except APNsMessageError as exc:
            return SendResult(DeliveryStatus.REJECTED, error_code=exc.error_code, reason=str(exc))
        response = await self._exchange(request)
        try:
            return self.parse_response(target, response)
        except PushAuthError as exc:
            if exc.reason != "ExpiredProviderToken" or not self.token_auth:
                raise
            refused = request.headers.get("authorization", "")[len("bearer ") :]
        self.provider_token(refused=refused)  # one new token, whichever stream gets here first
        response = await self._exchange(self.build_request(message, target))
        try:
            return self.parse_response(target, response)
        except PushAuthError as exc:
            if exc.reason == "ExpiredProviderToken":
                raise PushAuthError(
                    f"APNs refused our credentials: {AUTH_HINTS['ExpiredProviderToken']}",
                    reason="ExpiredProviderToken",
                    status_code=403,
                ) from exc
            raise

    # -- answers -------------------------------------------------------------------------------------
    def parse_response(self, target: Target, response: httpx.Response) -> SendResult:
        status = response.status_code
        if status == 200:
            return SendResult.sent(response.headers.get("apns-id", ""))
        try:
            body = response.json() if response.content else {}
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        reason = str(body.get("reason", ""))
        described = f"APNs answered {status} {reason}".strip()
        if status == 403 or reason in AUTH_HINTS:
            hint = AUTH_HINTS.get(reason, "the credentials were refused")
            raise PushAuthError(
                f"APNs refused our credentials ({reason or status}): {hint}",
                reason=reason or str(status),
                status_code=status,
            )
        if status == 410 or reason in INVALID_TOKEN_REASONS:
            since = None
            if body.get("timestamp"):
                try:
                    since = datetime.fromtimestamp(int(body["timestamp"]) / 1000, tz=timezone.utc)
                except (TypeError, ValueError, OverflowError):
                    since = None
            return SendResult(
                DeliveryStatus.INVALID_TOKEN,
                error_code=reason or str(status),
                reason=described,
                invalid_since=since,
                status_code=status,
            )
        if status == 429:
            return SendResult(
                DeliveryStatus.THROTTLED,
                error_code=reason or "429",
                reason=described,
                retry_after=retry_after_seconds(response),
                status_code=status,
            )
        if status >= 500:
            return SendResult(
                DeliveryStatus.UNAVAILABLE,
                error_code=reason or str(status),
                reason=described,
                retry_after=retry_after_seconds(response),
                status_code=status,
            )
        return SendResult(
            DeliveryStatus.REJECTED, error_code=reason or str(status), reason=described, status_code=status
        )

    # -- checks --------------------------------------------------------------------------------------
    def check_credentials(self, *, fetch_token: bool = False) -> str:
        """Prove the credentials are usable without any network call; raise with what is wrong.

        Token auth: load the key and sign a provider token (not cached, never sent: it does not
        count against Apple's 20-minute limit). Certificate auth: load the chain and check its dates.
        """
        if self.token_auth:
            key = self.signing_key()
            token = mint_provider_token(self.options["team_id"], self.options["key_id"], key, time.time())
            jwt.decode(token, key.public_key(), algorithms=["ES256"], options={"verify_iat": False})
            return (
                f"token auth: key {self.options['key_id']} of team {self.options['team_id']} signs "
                f"provider tokens; topic {self.options['topic']}"
            )
        from cryptography import x509

        self.ssl_context()
        try:
            with open(self.options["cert_file"], "rb") as f:
                cert = x509.load_pem_x509_certificate(f.read())
        except (OSError, ValueError) as exc:
            raise PushConfigurationError(f"{self.setting_path}['cert_file'] cannot be loaded: {exc}") from exc
        now = datetime.now(timezone.utc)
        if cert.not_valid_after_utc < now:
            raise PushConfigurationError(
                f"{self.setting_path}['cert_file'] expired on {cert.not_valid_after_utc:%Y-%m-%d}"
            )
        until = f"{cert.not_valid_after_utc:%Y-%m-%d}"
        return f"certificate auth: {cert.subject.rfc4514_string()} valid until {until}"
