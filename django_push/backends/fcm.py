"""Firebase Cloud Messaging, HTTP v1 API, with google-auth service-account credentials.

The OAuth2 access token is fetched by google-auth (never hand-written) and cached until five
minutes before it expires, shared by every batch of this backend. Only answers that are about the
registration token deactivate a device: an INVALID_ARGUMENT about our payload is REJECTED, so a
bug in a message can never wipe out a site's devices.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, ClassVar

import httpx

from ..exceptions import PayloadTooLarge, PushAuthError, PushConfigurationError
from ..message import PushMessage, Target
from ..priorities import for_priority
from ..results import DeliveryStatus, SendResult
from .base import REQUIRED, HTTPBackend, retry_after_seconds

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
PAYLOAD_LIMIT = 4096
REFRESH_MARGIN = 300
INVALID_TOKEN_CODES = frozenset({"UNREGISTERED", "SENDER_ID_MISMATCH"})
THROTTLE_CODES = frozenset({"QUOTA_EXCEEDED", "RESOURCE_EXHAUSTED"})
UNAVAILABLE_CODES = frozenset({"UNAVAILABLE", "INTERNAL"})


class _HttpxAuthRequest:
    """google-auth's transport interface (``google.auth.transport.Request``) over httpx.

    google-auth ships adapters for requests/urllib3/aiohttp only; this keeps the dependency set to
    httpx and gives the token fetch its own transport seam (the ``oauth_transport`` option).
    """

    def __init__(self, transport: httpx.BaseTransport | None, verify: bool | str, timeout: float) -> None:
        self.client = httpx.Client(transport=transport, verify=verify, timeout=timeout)

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: Any = None,
        headers: Any = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> Any:
        from google.auth import exceptions

        try:
            response = self.client.request(method, url, content=body, headers=headers, timeout=timeout)
        except httpx.HTTPError as exc:
            raise exceptions.TransportError(str(exc)) from exc
        return _AuthResponse(response)


class _AuthResponse:
    def __init__(self, response: httpx.Response) -> None:
        self.status = response.status_code
        self.headers = response.headers
        self.data = response.content


def _string_data(data: dict[str, Any]) -> dict[str, str]:
    """FCM data values must be strings: keep strings, JSON-encode everything else."""
    return {
        str(k): v if isinstance(v, str) else json.dumps(v, separators=(",", ":")) for k, v in data.items()
    }


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _deep_merge(base[key], value)
        else:
            base[key] = value
    return base


class FCMBackend(HTTPBackend):
    platform = "fcm"
    default_options: ClassVar[dict[str, Any]] = {
        "project_id": REQUIRED,
        "credentials": None,
        "credentials_file": None,
        "endpoint": "https://fcm.googleapis.com/v1/projects/{project_id}/messages:send",
        "token_uri": None,
        "oauth_transport": None,
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if bool(self.options["credentials"]) == bool(self.options["credentials_file"]):
            raise PushConfigurationError(
                f"{self.setting_path} needs exactly one of 'credentials' (the service-account JSON as a "
                "dict) or 'credentials_file' (its path)"
            )
        self.url = self.options["endpoint"].format(project_id=self.options["project_id"])
        self._credentials: Any = None
        self._token: str = ""
        self._token_expiry: float = 0.0
        self._refresh_lock: asyncio.Lock | None = None
        self.clock = time.time  # a seam for tests

    # -- credentials --------------------------------------------------------------------------------
    def credentials(self) -> Any:
        if self._credentials is None:
            from google.oauth2 import service_account

            info = self.options["credentials"]
            if info is None:
                with open(self.options["credentials_file"]) as f:
                    info = json.load(f)
            info = dict(info)
            if self.options["token_uri"]:
                info["token_uri"] = self.options["token_uri"]
            self._credentials = service_account.Credentials.from_service_account_info(info, scopes=[SCOPE])
        return self._credentials

    def _refresh_token(self) -> None:
        from google.auth import exceptions

        credentials = self.credentials()
        request = _HttpxAuthRequest(
            self.options["oauth_transport"],
            self.options["verify"],
            float(self.options["connect_timeout"]) + float(self.options["read_timeout"]),
        )
        try:
            credentials.refresh(request)
        except exceptions.GoogleAuthError as exc:
            raise PushAuthError(f"FCM: could not get an OAuth2 access token: {exc}", reason="oauth") from exc
        finally:
            request.client.close()
        self._token = credentials.token
        expiry = credentials.expiry  # naive UTC datetime
        self._token_expiry = (
            expiry.replace(tzinfo=__import__("datetime").timezone.utc).timestamp()
            if expiry
            else self.clock() + 3600
        )

    async def access_token(self) -> str:
        if self._token and self.clock() < self._token_expiry - REFRESH_MARGIN:
            return self._token
        if self._refresh_lock is None:
            self._refresh_lock = asyncio.Lock()
        async with self._refresh_lock:
            if not self._token or self.clock() >= self._token_expiry - REFRESH_MARGIN:
                await asyncio.to_thread(self._refresh_token)
        return self._token

    async def prepare(self, message: PushMessage) -> None:
        await self.access_token()

    # -- requests -----------------------------------------------------------------------------------
    def message_body(
        self, message: PushMessage, *, token: str = "", topic: str = "", condition: str = ""
    ) -> dict[str, Any]:
        prio = for_priority(message.priority)
        body: dict[str, Any] = {}
        if token:
            body["token"] = token
        elif topic:
            body["topic"] = topic
        elif condition:
            body["condition"] = condition
        notification = {
            k: v for k, v in (("title", message.title), ("body", message.body), ("image", message.image)) if v
        }
        if notification and message.push_type != "background":
            body["notification"] = notification
        if message.data:
            body["data"] = _string_data(message.data)
        android: dict[str, Any] = {"priority": prio.fcm_android_priority}
        if message.ttl is not None:
            android["ttl"] = f"{message.ttl}s"
        if message.collapse_key:
            android["collapse_key"] = message.collapse_key
        android_notification = {
            k: v
            for k, v in (
                ("channel_id", message.channel_id),
                ("icon", message.icon),
                ("sound", message.sound if isinstance(message.sound, str) else None),
                ("tag", message.collapse_key),
                ("title_loc_key", message.title_loc_key),
                ("title_loc_args", message.title_loc_args),
                ("body_loc_key", message.loc_key),
                ("body_loc_args", message.loc_args),
                ("click_action", message.category),
            )
            if v
        }
        if android_notification:
            android["notification"] = android_notification
        body["android"] = android
        apns_headers = {
            "apns-priority": "5" if message.push_type == "background" else str(prio.apns_priority)
        }
        if message.collapse_key:
            apns_headers["apns-collapse-id"] = message.collapse_key
        if message.push_type:
            apns_headers["apns-push-type"] = message.push_type
        aps: dict[str, Any] = {}
        if message.badge is not None:
            aps["badge"] = message.badge
        if message.sound is not None:
            aps["sound"] = message.sound
        if message.content_available or message.push_type == "background":
            aps["content-available"] = 1
        if message.mutable_content:
            aps["mutable-content"] = 1
        body["apns"] = {"headers": apns_headers, **({"payload": {"aps": aps}} if aps else {})}
        webpush: dict[str, Any] = {"headers": {"Urgency": prio.webpush_urgency}}
        if message.ttl is not None:
            webpush["headers"]["TTL"] = str(message.ttl)
        if message.url:
            webpush["fcm_options"] = {"link": message.url}
        body["webpush"] = webpush
        return {"message": _deep_merge(body, message.overrides.get("fcm", {}))}

    def _request(self, body: dict[str, Any]) -> httpx.Request:
        content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        # FCM limits the message (notification + data) to 4096 bytes; the serialized message
        # object is a slightly stricter measure, which keeps the check local and predictable.
        if len(content) > PAYLOAD_LIMIT:
            raise PayloadTooLarge(len(content), PAYLOAD_LIMIT, "FCM")
        headers = {
            "authorization": f"Bearer {self._token}",
            "content-type": "application/json; charset=UTF-8",
        }
        return httpx.Request("POST", self.url, headers=headers, content=content)

    def build_request(self, message: PushMessage, target: Target) -> httpx.Request:
        return self._request(self.message_body(message, token=target.address))

    async def send_to_topic(
        self, message: PushMessage, *, topic: str = "", condition: str = ""
    ) -> SendResult:
        """Send to an FCM topic or condition (FCM fans out; there is no per-device result)."""
        if bool(topic) == bool(condition):
            raise ValueError("give exactly one of topic or condition")
        await self.aopen()
        await self.prepare(message)
        request = self._request(self.message_body(message, topic=topic, condition=condition))
        response = await self.transport.handle_async_request(request)
        await response.aread()
        await response.aclose()
        return self.parse_response(Target(topic or condition), response)

    def parse_response(self, target: Target, response: httpx.Response) -> SendResult:
        status = response.status_code
        try:
            payload = response.json() if response.content else {}
        except ValueError:
            payload = {}
        if status == 200:
            return SendResult.sent(str(payload.get("name", "")) if isinstance(payload, dict) else "")
        error = payload.get("error", {}) if isinstance(payload, dict) else {}
        state = str(error.get("status", ""))
        message = str(error.get("message", ""))
        codes = {str(d.get("errorCode", "")) for d in error.get("details", []) if isinstance(d, dict)}
        code = next(iter(codes - {""}), "") or state or str(status)
        reason = f"FCM answered {status} {code}: {message}".strip(": ")
        if "THIRD_PARTY_AUTH_ERROR" in codes:
            raise PushAuthError(
                "FCM: the APNs or Web Push credentials uploaded to Firebase were refused "
                "(THIRD_PARTY_AUTH_ERROR)",
                reason="THIRD_PARTY_AUTH_ERROR",
                status_code=status,
            )
        if status in (401, 403) or state in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
            raise PushAuthError(
                f"FCM refused our credentials: {reason}", reason=state or str(status), status_code=status
            )
        if codes & INVALID_TOKEN_CODES or status == 404:
            return SendResult(
                DeliveryStatus.INVALID_TOKEN, error_code=code, reason=reason, status_code=status
            )
        if state == "INVALID_ARGUMENT" or "INVALID_ARGUMENT" in codes:
            if _about_registration_token(error):
                return SendResult(
                    DeliveryStatus.INVALID_TOKEN,
                    error_code="INVALID_ARGUMENT",
                    reason=reason,
                    status_code=status,
                )
            return SendResult(
                DeliveryStatus.REJECTED, error_code="INVALID_ARGUMENT", reason=reason, status_code=status
            )
        if status == 429 or codes & THROTTLE_CODES or state == "RESOURCE_EXHAUSTED":
            return SendResult(
                DeliveryStatus.THROTTLED,
                error_code=code,
                reason=reason,
                retry_after=retry_after_seconds(response),
                status_code=status,
            )
        if status >= 500 or codes & UNAVAILABLE_CODES or state in UNAVAILABLE_CODES:
            return SendResult(
                DeliveryStatus.UNAVAILABLE,
                error_code=code,
                reason=reason,
                retry_after=retry_after_seconds(response),
                status_code=status,
            )
        return SendResult(DeliveryStatus.REJECTED, error_code=code, reason=reason, status_code=status)


def _about_registration_token(error: dict[str, Any]) -> bool:
    """Whether an INVALID_ARGUMENT names the registration token (not our payload)."""
    for detail in error.get("details", []):
        if not isinstance(detail, dict):
            continue
        for violation in detail.get("fieldViolations", []) or []:
            if str(violation.get("field", "")) in ("message.token", "token"):
                return True
    message = str(error.get("message", "")).lower()
    return "registration token" in message and "not a valid" in message
