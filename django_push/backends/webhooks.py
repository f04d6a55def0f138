"""Signed webhooks (Standard Webhooks) on the HTTP backend contract.

One ``POST`` per endpoint: the body is ``{"type": …, "timestamp": …, "data": {…}}`` (JSON), signed
with every secret in ``Target.secrets`` (filled by dispatch from the endpoint; two during a secret
rotation's overlap), see :mod:`.webhook_signing`. ``webhook-id`` is derived from the message's
``dedupe_key`` and the target key, so every retry of one delivery carries the same id. The URL is
checked before each send (:mod:`.webhook_urls`: https, and every address it resolves to public).

Answers: 2xx SENT; 410 INVALID_TOKEN (the endpoint is gone: its address is deactivated); 408, 429
and 5xx retryable (Retry-After honoured); a 3xx is FAILED (redirects are never followed); any other
4xx FAILED (the receiver refused it). Timeouts and connection failures are retryable (the base class).
Retries follow :attr:`WebhookBackend.retry_schedule`, Svix's.

``message.overrides["webhook"]`` may set ``type``, ``timestamp`` and ``data`` (dispatch sets the first
two from the notification, so they are the same on every attempt).
"""

from __future__ import annotations

import dataclasses
import json
import time
from datetime import datetime, timezone
from typing import Any, ClassVar

import httpx

from django_push.backends.http import HTTPBackend, retry_after_seconds
from django_push.backends.webhook_signing import message_id, signed_headers
from django_push.backends.webhook_urls import check_addresses, parse_private_hosts, resolve, validate_url
from django_push.conf import push_settings
from django_push.exceptions import MessageRejected
from django_push.message import PushMessage, Target
from django_push.results import DeliveryStatus, SendResult

__all__ = ["SVIX_SCHEDULE", "WebhookBackend", "webhook_body"]

#: Svix's retry schedule: after the first attempt, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h
#: (about 27.6 hours in all); dispatch adds jitter.
SVIX_SCHEDULE: tuple[float, ...] = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)


def webhook_body(message: PushMessage, default_type: str = "notification") -> bytes:
    """The JSON body for ``message``; stable for one delivery when dispatch set its timestamp."""
    extra = message.overrides.get("webhook") or {}
    data: dict[str, Any] = {"title": message.title, "body": message.body, "data": message.data}
    if message.url:
        data["url"] = message.url
    payload = {
        "type": str(extra.get("type") or default_type),
        "timestamp": str(extra.get("timestamp") or datetime.now(timezone.utc).isoformat()),
        "data": extra.get("data", data),
    }
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str).encode()


class WebhookBackend(HTTPBackend):
    """``DJANGO_PUSH["BACKENDS"]["webhook"] = {"BACKEND":
    "django_push.backends.webhooks.WebhookBackend"}``."""

    platform = "webhook"
    retry_schedule: ClassVar[tuple[float, ...] | None] = SVIX_SCHEDULE
    default_options: ClassVar[dict[str, Any]] = {
        # Receivers are arbitrary web servers: HTTP/1.1, and a short wait (Svix waits 15 s).
        "http2": False,
        "connect_timeout": 5.0,
        "read_timeout": 15.0,
        "max_connections": 20,
        "event_type": "notification",
        "user_agent": "django-push-webhooks",
        # None: DJANGO_PUSH["WEBHOOK_ALLOWED_PRIVATE_HOSTS"].
        "allowed_private_hosts": None,
        # async (host, port) -> [addresses]; None: the system resolver.
        "resolver": None,
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        hosts = self.options["allowed_private_hosts"]
        self._allowed = parse_private_hosts(
            push_settings.WEBHOOK_ALLOWED_PRIVATE_HOSTS if hosts is None else hosts
        )
        self._resolve = self.options["resolver"] or resolve

    async def send_one(self, message: PushMessage, target: Target) -> SendResult:
        url, host, port = validate_url(target.address)
        check_addresses(host, port, await self._resolve(host, port), self._allowed)
        if not target.secrets:
            raise MessageRejected("The webhook endpoint has no signing secret.", error_code="no_secret")
        body = webhook_body(message, str(self.options["event_type"]))
        msg_id = message_id(message.dedupe_key or body.decode(), target.key)
        result = await self.exchange(lambda: self._request(url, msg_id, body, target), target)
        # The delivery records its webhook-id: what the receiver saw, to find it in their logs.
        return dataclasses.replace(result, message_id=msg_id) if result.ok else result

    def _request(self, url: str, msg_id: str, body: bytes, target: Target) -> httpx.Request:
        headers = {
            "content-type": "application/json",
            "user-agent": str(self.options["user_agent"]),
            **signed_headers(msg_id, int(time.time()), body, target.secrets),
        }
        return httpx.Request("POST", url, content=body, headers=headers)

    def build_request(self, message: PushMessage, target: Target) -> httpx.Request:
        """Pure (no DNS): the request one target gets, for previews."""
        url = validate_url(target.address)[0]
        if not target.secrets:
            raise MessageRejected("The webhook endpoint has no signing secret.", error_code="no_secret")
        body = webhook_body(message, str(self.options["event_type"]))
        return self._request(url, message_id(message.dedupe_key or body.decode(), target.key), body, target)

    def parse_response(self, target: Target, response: httpx.Response) -> SendResult:
        status = response.status_code
        if 200 <= status < 300:
            return SendResult.sent(status_code=status)
        text = response.text[:200].strip() if response.content else ""
        reason = f"endpoint answered {status}" + (f": {text}" if text else "")

        def result(outcome: DeliveryStatus, code: str = str(status), **extra: Any) -> SendResult:
            return SendResult(outcome, error_code=code, reason=reason[:500], status_code=status, **extra)

        if 300 <= status < 400:
            reason += f" (redirect to {response.headers.get('location', '')!r} not followed)"
            return result(DeliveryStatus.FAILED, "redirect")
        if status == 410:
            return result(DeliveryStatus.INVALID_TOKEN, "gone")
        if status == 429:
            return result(DeliveryStatus.THROTTLED, retry_after=retry_after_seconds(response))
        if status >= 500 or status == 408:
            return result(DeliveryStatus.UNAVAILABLE, retry_after=retry_after_seconds(response))
        return result(DeliveryStatus.FAILED)
