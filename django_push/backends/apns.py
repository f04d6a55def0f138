"""Apple Push Notification service over HTTP/2, with token (JWT) or certificate authentication.

Provider tokens are shared by every backend instance in the process per (team, key): Apple refuses
more than one new token per 20 minutes (429 TooManyProviderTokenUpdates) and wants a token at most
an hour old, so one is minted and reused for ``token_ttl`` seconds (50 minutes by default). When
APNs answers 403 ExpiredProviderToken, the refused token is replaced once (not once per stream
that saw the refusal) and the target is retried once.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from datetime import datetime, timezone
from typing import Any, ClassVar

import httpx
import jwt

from ..exceptions import PayloadTooLarge, PushAuthError, PushConfigurationError
from ..message import PushMessage, Target
from ..priorities import for_priority
from ..results import DeliveryStatus, SendResult
from .base import REQUIRED, HTTPBackend, retry_after_seconds

PAYLOAD_LIMIT = 4096
VOIP_PAYLOAD_LIMIT = 5120
MIN_MINT_INTERVAL = 20 * 60
COLLAPSE_ID_LIMIT = 64

TOPIC_SUFFIX = {
    "voip": ".voip",
    "complication": ".complication",
    "fileprovider": ".pushkit.fileprovider",
    "liveactivity": ".push-type.liveactivity",
    "pushtotalk": ".voip-ptt",
    "location": ".location-query",
}
AUTH_REASONS = frozenset(
    {
        "InvalidProviderToken",
        "MissingProviderToken",
        "BadCertificate",
        "BadCertificateEnvironment",
        "BadEnvironmentKeyIdInToken",
        "BadEnvironmentKeyInToken",
        "UnrelatedKeyIdInToken",
        "MissingTopic",
        "TopicDisallowed",
        "Forbidden",
    }
)
INVALID_TOKEN_REASONS = frozenset({"BadDeviceToken", "DeviceTokenNotForTopic", "Unregistered"})


class _ProviderTokens:
    """Process-wide cache of APNs provider JWTs, one per (team id, key id)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, str], tuple[str, float]] = {}
        self.mints = 0

    def get(self, team_id: str, key_id: str, key: str, ttl: float, refused: str | None = None) -> str:
        """The current token; a new one only when ours is older than ``ttl`` (never more often than
        every 20 minutes) or when APNs refused exactly the cached one as expired."""
        now = time.time()
        with self._lock:
            cached = self._tokens.get((team_id, key_id))
            if cached is not None:
                token, minted = cached
                if refused is None and now - minted < max(ttl, MIN_MINT_INTERVAL):
                    return token
                if refused is not None and token != refused:
                    return token  # another stream already replaced the refused token
            token = jwt.encode(
                {"iss": team_id, "iat": int(now)}, key, algorithm="ES256", headers={"kid": key_id}
            )
            self._tokens[(team_id, key_id)] = (token, now)
            self.mints += 1
            return token

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()


provider_tokens = _ProviderTokens()


def jwt_mint_count() -> int:
    return provider_tokens.mints


class _ExpiredProviderToken(Exception):
    def __init__(self, token: str) -> None:
        self.token = token


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _deep_merge(base[key], value)
        else:
            base[key] = value
    return base


class APNsBackend(HTTPBackend):
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
        o = self.options
        token_auth = bool(o["key"] or o["key_file"])
        cert_auth = bool(o["cert_file"])
        if token_auth == cert_auth:
            raise PushConfigurationError(
                f"{self.setting_path} needs exactly one APNs authentication: token auth "
                "(team_id, key_id and key or key_file) or certificate auth (cert_file)"
            )
        if token_auth and not (o["team_id"] and o["key_id"]):
            raise PushConfigurationError(f"{self.setting_path}: token auth needs 'team_id' and 'key_id'")
        self.token_auth = token_auth
        self._key: str | None = o["key"]
        self._jwt: str | None = None

    # -- credentials --------------------------------------------------------------------------------
    def signing_key(self) -> str:
        if self._key is None:
            with open(self.options["key_file"]) as f:
                self._key = f.read()
        return self._key

    def provider_token(self, refused: str | None = None) -> str:
        o = self.options
        return provider_tokens.get(
            o["team_id"], o["key_id"], self.signing_key(), float(o["token_ttl"]), refused
        )

    def ssl_context(self) -> ssl.SSLContext | None:
        if self.token_auth:
            return None
        verify = self.options["verify"]
        ctx = ssl.create_default_context(cafile=verify if isinstance(verify, str) else None)
        ctx.load_cert_chain(
            self.options["cert_file"], self.options["cert_key_file"], self.options["cert_password"]
        )
        return ctx

    async def prepare(self, message: PushMessage) -> None:
        if self.token_auth:
            self._jwt = self.provider_token()

    # -- requests -----------------------------------------------------------------------------------
    def payload(self, message: PushMessage) -> dict[str, Any]:
        aps: dict[str, Any] = {}
        alert: dict[str, Any] = {}
        if message.title:
            alert["title"] = message.title
        if message.body:
            alert["body"] = message.body
        if message.title_loc_key:
            alert["title-loc-key"] = message.title_loc_key
            if message.title_loc_args:
                alert["title-loc-args"] = message.title_loc_args
        if message.loc_key:
            alert["loc-key"] = message.loc_key
            if message.loc_args:
                alert["loc-args"] = message.loc_args
        background = message.push_type == "background"
        if alert and not background:
            aps["alert"] = alert
        if message.badge is not None:
            aps["badge"] = message.badge
        if message.sound is not None and not background:
            aps["sound"] = message.sound
        if message.thread_id:
            aps["thread-id"] = message.thread_id
        if message.category:
            aps["category"] = message.category
        if message.mutable_content:
            aps["mutable-content"] = 1
        if message.content_available or background:
            aps["content-available"] = 1
        level = message.interruption_level or (
            for_priority(message.priority).apns_interruption_level if message.priority != "normal" else ""
        )
        if level and not background:
            aps["interruption-level"] = level
        if message.relevance_score is not None:
            aps["relevance-score"] = message.relevance_score
        payload: dict[str, Any] = {"aps": aps, **{k: v for k, v in message.data.items() if k != "aps"}}
        return _deep_merge(payload, message.overrides.get("apns", {}))

    def build_request(self, message: PushMessage, target: Target) -> httpx.Request:
        body = json.dumps(self.payload(message), separators=(",", ":"), ensure_ascii=False).encode()
        push_type = message.push_type or "alert"
        limit = VOIP_PAYLOAD_LIMIT if push_type == "voip" else PAYLOAD_LIMIT
        if len(body) > limit:
            raise PayloadTooLarge(len(body), limit, "APNs")
        background = push_type == "background"
        priority = 5 if background else for_priority(message.priority).apns_priority
        headers = {
            "apns-push-type": push_type,
            "apns-topic": self.options["topic"] + TOPIC_SUFFIX.get(push_type, ""),
            "apns-priority": str(priority),
        }
        if message.ttl is not None:
            headers["apns-expiration"] = "0" if message.ttl == 0 else str(int(time.time()) + message.ttl)
        if message.collapse_key:
            if len(message.collapse_key.encode()) > COLLAPSE_ID_LIMIT:
                raise PayloadTooLarge(
                    len(message.collapse_key.encode()), COLLAPSE_ID_LIMIT, "APNs collapse id"
                )
            headers["apns-collapse-id"] = message.collapse_key
        if self.token_auth:
            headers["authorization"] = f"bearer {self._jwt or self.provider_token()}"
        base = (
            self.options["sandbox_url"] if target.environment == "sandbox" else self.options["production_url"]
        )
        return httpx.Request("POST", f"{base}/3/device/{target.address}", headers=headers, content=body)

    async def send_one(self, message: PushMessage, target: Target) -> SendResult:
        try:
            return await super().send_one(message, target)
        except _ExpiredProviderToken as expired:
            self._jwt = self.provider_token(refused=expired.token)
            try:
                return await super().send_one(message, target)
            except _ExpiredProviderToken as again:
                raise PushAuthError(
                    "APNs refused a freshly minted provider token as expired; check the machine's clock",
                    reason="ExpiredProviderToken",
                    status_code=403,
                ) from again

    def parse_response(self, target: Target, response: httpx.Response) -> SendResult:
        status = response.status_code
        if status == 200:
            return SendResult.sent(response.headers.get("apns-id", ""))
        try:
            body = response.json() if response.content else {}
        except ValueError:
            body = {}
        reason = str(body.get("reason", "")) if isinstance(body, dict) else ""
        retry_after = retry_after_seconds(response)
        if status == 403 and reason == "ExpiredProviderToken":
            raise _ExpiredProviderToken(response.request.headers.get("authorization", "")[7:])
        if status == 403 or reason in AUTH_REASONS:
            raise PushAuthError(
                f"APNs refused our credentials: {reason or 'HTTP 403'}", reason=reason, status_code=status
            )
        if status == 410 or reason in INVALID_TOKEN_REASONS:
            since = None
            if isinstance(body, dict) and body.get("timestamp"):
                since = datetime.fromtimestamp(int(body["timestamp"]) / 1000, tz=timezone.utc)
            return SendResult(
                DeliveryStatus.INVALID_TOKEN,
                error_code=reason or str(status),
                reason=f"APNs answered {status} {reason}".strip(),
                invalid_since=since,
                status_code=status,
            )
        if status == 429:
            return SendResult(
                DeliveryStatus.THROTTLED,
                error_code=reason or "429",
                retry_after=retry_after,
                reason="APNs is throttling this device or topic",
                status_code=status,
            )
        if status >= 500:
            return SendResult(
                DeliveryStatus.UNAVAILABLE,
                error_code=reason or str(status),
                retry_after=retry_after,
                reason=f"APNs answered {status}",
                status_code=status,
            )
        return SendResult(
            DeliveryStatus.REJECTED,
            error_code=reason or str(status),
            reason=f"APNs answered {status} {reason}".strip(),
            status_code=status,
        )
