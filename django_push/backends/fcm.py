"""Firebase Cloud Messaging, HTTP v1 API, with google-auth service-account credentials.

The OAuth2 access token is fetched by google-auth (never hand-written) and cached until five
minutes before it expires, shared by every batch of this backend instance; concurrent batches
refresh it once. Only answers that are about the registration token deactivate a device: an
INVALID_ARGUMENT about our payload is REJECTED, so a bug in a message can never wipe out a site's
devices. Topic and condition sends (FCM fans them out itself) are :meth:`FCMBackend.send_to_topic`.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from datetime import datetime, timezone
from typing import Any, ClassVar

import httpx

from django_push.backends.base import REQUIRED
from django_push.backends.fcm_topics import TOPIC_RE, manage_topic
from django_push.backends.http import HTTPBackend, parsed_url, retry_after_seconds
from django_push.backends.payload import FCM_PAYLOAD_LIMIT, dumps, fcm_message
from django_push.exceptions import (
    InvalidTarget,
    MessageRejected,
    PayloadTooLarge,
    PushAuthError,
    PushConfigurationError,
)
from django_push.message import PushMessage, Target
from django_push.results import DeliveryStatus, SendResult

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
REFRESH_MARGIN = 300  # refresh a token that expires within 5 minutes
INVALID_TOKEN_CODES = frozenset({"UNREGISTERED", "SENDER_ID_MISMATCH"})
THROTTLE_CODES = frozenset({"QUOTA_EXCEEDED", "RESOURCE_EXHAUSTED"})
UNAVAILABLE_CODES = frozenset({"UNAVAILABLE", "INTERNAL"})
AUTH_STATES = frozenset({"UNAUTHENTICATED", "PERMISSION_DENIED"})


class _HttpxAuthRequest:
    """google-auth's transport interface (``google.auth.transport.Request``) over a sync httpx client.

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
    ) -> _AuthResponse:
        from google.auth import exceptions

        try:
            response = self.client.request(
                method, url, content=body, headers=headers, timeout=timeout or self.client.timeout
            )
        except httpx.HTTPError as exc:
            raise exceptions.TransportError(f"{type(exc).__name__}: {exc}") from exc
        return _AuthResponse(response)


class _AuthResponse:
    def __init__(self, response: httpx.Response) -> None:
        self.status = response.status_code
        self.headers = response.headers
        self.data = response.content


class FCMBackend(HTTPBackend):
    """FCM HTTP v1 (``messages:send``). Options are documented in docs/fcm.md."""

    platform = "fcm"
    default_options: ClassVar[dict[str, Any]] = {
        "project_id": REQUIRED,
        "credentials": None,
        "credentials_file": None,
        "endpoint": "https://fcm.googleapis.com/v1/projects/{project_id}/messages:send",
        "token_uri": None,
        "oauth_transport": None,
        "iid_url": "https://iid.googleapis.com/iid/v1",
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        o, path = self.options, self.setting_path
        if bool(o["credentials"]) == bool(o["credentials_file"]):
            raise PushConfigurationError(
                f"{path} needs exactly one of 'credentials' (the service-account JSON as a dict) or "
                "'credentials_file' (its path)"
            )
        if o["credentials"] and not isinstance(o["credentials"], dict):
            raise PushConfigurationError(
                f"{path}['credentials'] must be the service-account JSON parsed into a dict"
            )
        if not isinstance(o["project_id"], str) or not o["project_id"].strip():
            raise PushConfigurationError(f"{path}['project_id'] must be the Firebase project id")
        try:
            self.url = str(o["endpoint"]).format(project_id=o["project_id"])
        except (KeyError, IndexError, ValueError) as exc:
            raise PushConfigurationError(
                f"{path}['endpoint'] may use only the {{project_id}} placeholder: {exc}"
            ) from exc
        self._credentials: Any = None
        self._token = ""
        self._expires_at = 0.0
        self._token_problem: PushAuthError | SendResult | None = None
        self._refresh_lock = threading.Lock()
        self._encoded: tuple[PushMessage, bytes] | None = None
        self.token_refreshes = 0
        self.clock = time.time  # the test seam for token expiry and apns-expiration

    # -- credentials ---------------------------------------------------------------------------------
    def service_account_info(self) -> dict[str, Any]:
        """The service-account dict (``credentials_file`` is read here, never at construction)."""
        info = self.options["credentials"]
        if info is None:
            with open(self.options["credentials_file"], encoding="utf-8") as f:
                info = json.load(f)
        if not isinstance(info, dict):
            raise ValueError("the service-account JSON is not an object")
        info = dict(info)
        if self.options["token_uri"]:
            info["token_uri"] = self.options["token_uri"]
        return info

    def credentials(self) -> Any:
        if self._credentials is None:
            from google.oauth2 import service_account

            self._credentials = service_account.Credentials.from_service_account_info(
                self.service_account_info(), scopes=[SCOPE]
            )
        return self._credentials

    def _needs_refresh(self) -> bool:
        return not self._token or self._expires_at - self.clock() < REFRESH_MARGIN

    def refresh_token(self, *, force: bool = False) -> None:
        """Fetch a new access token (blocking: run it in a thread) unless a fresh one is cached.

        Problems are recorded, not raised, so every target of the batch gets a result: refused
        credentials become a PushAuthError, a token endpoint that is down becomes UNAVAILABLE.
        """
        from google.auth import exceptions

        with self._refresh_lock:
            if not force and not self._needs_refresh():
                return
            try:
                credentials = self.credentials()
            except (OSError, ValueError, KeyError) as exc:
                self._token_problem = PushAuthError(
                    f"FCM: the service-account credentials in {self.setting_path} cannot be loaded: {exc}",
                    reason="credentials",
                )
                return
            o = self.options
            timeout = float(o["connect_timeout"]) + float(o["read_timeout"])
            request = _HttpxAuthRequest(o["oauth_transport"], o["verify"], timeout)
            try:
                credentials.refresh(request)
            except exceptions.RefreshError as exc:
                if getattr(exc, "retryable", False):
                    self._token_problem = SendResult.unavailable("oauth_unavailable", f"FCM OAuth2: {exc}")
                else:
                    self._token_problem = PushAuthError(
                        f"FCM: Google refused the service account's OAuth2 grant: {exc}", reason="oauth"
                    )
                return
            except exceptions.TransportError as exc:
                self._token_problem = SendResult.unavailable("oauth_unavailable", f"FCM OAuth2: {exc}")
                return
            finally:
                request.client.close()
            lifetime = 3600.0
            if credentials.expiry is not None:  # naive UTC, computed by google-auth from expires_in
                now = datetime.now(timezone.utc).replace(tzinfo=None)
                lifetime = (credentials.expiry - now).total_seconds()
            self._token, self._expires_at = credentials.token, self.clock() + lifetime
            self._token_problem = None
            self.token_refreshes += 1

    def _usable_token(self) -> str:
        return self._token if self._token and self.clock() < self._expires_at else ""

    def _no_token(self) -> SendResult:
        problem = self._token_problem
        if isinstance(problem, PushAuthError):
            raise PushAuthError(str(problem), reason=problem.reason, status_code=problem.status_code)
        return problem or SendResult.unavailable("oauth_unavailable", "FCM: no OAuth2 access token")

    async def prepare(self, message: PushMessage) -> None:
        self._encoded = None
        await self.ensure_token()

    async def ensure_token(self) -> None:
        """Fetch an OAuth2 token (in a thread) unless a fresh one is cached."""
        if self._needs_refresh():
            await asyncio.to_thread(self.refresh_token)

    async def manage_topic(self, action: str, topic: str, tokens: list[str]) -> list[SendResult]:
        """Instance ID ``batchAdd`` (``action="add"``) or ``batchRemove`` for ``tokens`` on ``topic``,
        with these credentials and connections; one result per token (backends/fcm_topics.py)."""
        return await manage_topic(self, action, topic, tokens)

    # -- requests ------------------------------------------------------------------------------------
    def message_body(self, message: PushMessage) -> dict[str, Any]:
        """The ``message`` object without its target (:func:`~django_push.backends.payload.fcm_message`)."""
        return fcm_message(message, self.clock())

    def encode(self, message: PushMessage) -> bytes:
        """The message object's members as JSON, without braces (cached while a batch runs).

        The size checked against FCM's 4096-byte limit is this serialized message object without
        its target (token, topic or condition), in UTF-8 bytes. It counts the platform sections as
        well as notification and data, so it is slightly stricter than FCM's own count, never looser.
        """
        cached = self._encoded
        if cached is not None and cached[0] is message:
            return cached[1]
        inner = dumps(self.message_body(message))
        if len(inner) > FCM_PAYLOAD_LIMIT:
            raise PayloadTooLarge(len(inner), FCM_PAYLOAD_LIMIT, "FCM")
        members = inner[1:-1]
        self._encoded = (message, members)
        return members

    def _request(self, message: PushMessage, field: str, value: str) -> httpx.Request:
        members = self.encode(message)
        content = b'{"message":{"%s":%s%s}}' % (
            field.encode(),
            json.dumps(value).encode(),
            b"," + members if members else b"",
        )
        headers = {"content-type": "application/json; charset=UTF-8"}
        return httpx.Request("POST", parsed_url(self.url), headers=headers, content=content)

    def build_request(self, message: PushMessage, target: Target) -> httpx.Request:
        if not target.address:
            raise InvalidTarget("an FCM registration token cannot be empty")
        return self._request(message, "token", target.address)

    def build_topic_request(
        self, message: PushMessage, *, topic: str | None = None, condition: str | None = None
    ) -> httpx.Request:
        """The request for a topic (``"news"`` or ``"/topics/news"``) or a condition expression."""
        if (topic is None) == (condition is None):
            raise ValueError("give exactly one of topic or condition")
        if topic is not None:
            name = topic.removeprefix("/topics/")
            if not TOPIC_RE.match(name):
                raise InvalidTarget(f"FCM topic names match [a-zA-Z0-9-_.~%]+, not {topic!r}")
            return self._request(message, "topic", name)
        if not str(condition).strip():
            raise InvalidTarget("an FCM condition cannot be empty")
        return self._request(message, "condition", str(condition))

    def authorize(self, request: httpx.Request) -> SendResult | None:
        token = self._usable_token()
        if not token:
            return self._no_token()
        request.headers["authorization"] = f"Bearer {token}"
        return None

    async def refresh_credentials(self, error: PushAuthError, request: httpx.Request) -> bool:
        if error.status_code == 401 and self._token == request.headers.get("authorization", "")[7:]:
            self._token = ""  # revoked or expired early: the next batch fetches a new one
        return False

    async def send_to_topic(
        self, message: PushMessage, *, topic: str | None = None, condition: str | None = None
    ) -> SendResult:
        """Send to an FCM topic or condition. FCM fans the message out itself, so there is one
        result (SENT with FCM's message name, or why not) and no per-device outcome. Sync callers:
        ``django_push.transport.loop.run(backend.send_to_topic(message, topic="news"))``."""
        if not self.opened:
            await self.aopen()
        await self.prepare(message)
        label = f"/topics/{topic}" if topic is not None else str(condition)
        try:
            return await self.exchange(
                lambda: self.build_topic_request(message, topic=topic, condition=condition), Target(label)
            )
        except MessageRejected as exc:
            return SendResult(DeliveryStatus.REJECTED, error_code=exc.error_code, reason=str(exc))

    # -- answers -------------------------------------------------------------------------------------
    def parse_response(self, target: Target, response: httpx.Response) -> SendResult:
        status = response.status_code
        try:
            payload = response.json() if response.content else {}
        except ValueError:
            payload = {}
        if not isinstance(payload, dict):
            payload = {}
        if status == 200:
            return SendResult.sent(str(payload.get("name", "")))
        error: dict[str, Any] = payload["error"] if isinstance(payload.get("error"), dict) else {}
        state = str(error.get("status", ""))
        text = str(error.get("message", ""))
        details = [d for d in error.get("details", []) or [] if isinstance(d, dict)]
        codes = {str(d["errorCode"]) for d in details if d.get("errorCode")}
        code = next(iter(sorted(codes)), "") or state or str(status)
        reason = f"FCM answered {status} {code}" + (f": {text}" if text else "")

        def result(outcome: DeliveryStatus, error_code: str = code, **extra: Any) -> SendResult:
            return SendResult(outcome, error_code=error_code, reason=reason, status_code=status, **extra)

        if "THIRD_PARTY_AUTH_ERROR" in codes:
            raise PushAuthError(
                "FCM: the APNs certificate/key or Web Push credentials uploaded to the Firebase project "
                "were refused by Apple or the push service (THIRD_PARTY_AUTH_ERROR); fix them in the "
                "Firebase console, Project settings > Cloud Messaging",
                reason="THIRD_PARTY_AUTH_ERROR",
                status_code=status,
            )
        if codes & INVALID_TOKEN_CODES:
            return result(DeliveryStatus.INVALID_TOKEN)
        if status in (401, 403) or state in AUTH_STATES:
            raise PushAuthError(
                f"FCM refused our credentials ({reason}): check that the service account belongs to "
                f"project {self.options['project_id']!r} and may send messages",
                reason=state or str(status),
                status_code=status,
            )
        if state == "INVALID_ARGUMENT" or "INVALID_ARGUMENT" in codes:
            if _about_registration_token(error, details):
                return result(DeliveryStatus.INVALID_TOKEN, "INVALID_ARGUMENT")
            return result(DeliveryStatus.REJECTED, "INVALID_ARGUMENT")
        if status == 429 or codes & THROTTLE_CODES or state == "RESOURCE_EXHAUSTED":
            return result(DeliveryStatus.THROTTLED, retry_after=retry_after_seconds(response))
        if status >= 500 or codes & UNAVAILABLE_CODES or state in UNAVAILABLE_CODES:
            return result(DeliveryStatus.UNAVAILABLE, retry_after=retry_after_seconds(response))
        if status == 404:
            # Not UNREGISTERED: the URL (project_id or endpoint option) is wrong, not the device.
            return SendResult(
                DeliveryStatus.REJECTED,
                error_code=code,
                reason=f"{reason} (check the project_id and endpoint options)",
                status_code=status,
            )
        return result(DeliveryStatus.REJECTED)

    # -- checks --------------------------------------------------------------------------------------
    def check_credentials(self, *, fetch_token: bool = False) -> str:
        """Load the service account (no network); with ``fetch_token`` also get an access token."""
        try:
            info = self.service_account_info()
            self.credentials()
        except (OSError, ValueError, KeyError) as exc:
            source = "credentials_file" if self.options["credentials_file"] else "credentials"
            raise PushConfigurationError(
                f"{self.setting_path}['{source}'] is not a usable service account: {exc}"
            ) from exc
        summary = f"service account {info.get('client_email', '?')}"
        if info.get("project_id") and info["project_id"] != self.options["project_id"]:
            summary += (
                f" (note: it belongs to project {info['project_id']!r}, and project_id is "
                f"{self.options['project_id']!r})"
            )
        if fetch_token:
            self.refresh_token(force=True)
            if self._token_problem is not None:
                problem = self._token_problem
                raise PushAuthError(problem.reason if isinstance(problem, SendResult) else str(problem))
            summary += f"; access token fetched from {info.get('token_uri')}"
        return summary


def _about_registration_token(error: dict[str, Any], details: list[dict[str, Any]]) -> bool:
    """Whether an INVALID_ARGUMENT is about the registration token (not about our payload)."""
    for detail in details:
        for violation in detail.get("fieldViolations", []) or []:
            if isinstance(violation, dict) and str(violation.get("field", "")) in ("message.token", "token"):
                return True
    return "registration token" in str(error.get("message", "")).lower()
