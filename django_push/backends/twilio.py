"""SMS through Twilio's Messages API, on the HTTP backend contract.

One ``POST {base_url}/2010-04-01/Accounts/{account_sid}/Messages.json`` per phone number, form-encoded
(``To``, ``From`` or ``MessagingServiceSid``, ``Body``), with HTTP basic auth (account SID + auth
token). The auth token is added by :meth:`TwilioSMSBackend.authorize` only, so the admin preview of
:meth:`TwilioSMSBackend.build_request` and every log line stay free of it.

Answers are mapped like push answers (see :data:`INVALID_NUMBER_CODES`): a number that cannot receive
SMS deactivates that address; 429 is THROTTLED with Retry-After; 5xx UNAVAILABLE; any other 4xx is
REJECTED (our request is wrong: not retried); 401 raises :class:`PushAuthError` (bad credentials stop
the batch). Twilio accepts a message with 201 and delivers it later; the delivery receipt (a status
callback) is not part of this backend.

The text is ``title`` and ``body`` joined by a line break, trimmed to ``max_length`` characters
(default 1600, Twilio's own limit for ``Body``; each 160 GSM-7 or 70 UCS-2 characters is a billed
segment, so sites usually set a lower limit).
"""

from __future__ import annotations

import base64
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from django_push.backends.base import REQUIRED
from django_push.backends.http import HTTPBackend, retry_after_seconds
from django_push.exceptions import MessageRejected, PushAuthError, PushConfigurationError
from django_push.message import PushMessage, Target
from django_push.results import DeliveryStatus, SendResult

__all__ = ["INVALID_NUMBER_CODES", "TWILIO_BODY_LIMIT", "TwilioSMSBackend", "sms_text"]

#: Twilio's maximum ``Body`` length (characters).
TWILIO_BODY_LIMIT = 1600
#: Twilio error codes meaning "this number cannot get our SMS": the address is deactivated.
#: 21211 invalid 'To' number; 21214 'To' cannot be reached; 21217 not a valid number; 21610 the
#: recipient replied STOP (unsubscribed); 21612 cannot route to this number; 21614 not a mobile number.
INVALID_NUMBER_CODES = frozenset({21211, 21214, 21217, 21610, 21612, 21614})
#: Twilio error codes for throttling answered with a 4xx other than 429 (queue overflow).
THROTTLE_CODES = frozenset({20429, 30001})


def sms_text(message: PushMessage, limit: int = TWILIO_BODY_LIMIT) -> str:
    """The SMS body for ``message``: title and body on two lines, cut to ``limit`` with an ellipsis."""
    text = "\n".join(part for part in (message.title.strip(), message.body.strip()) if part)
    if len(text) > limit:
        text = text[: max(0, limit - 1)].rstrip() + "…"
    return text


class TwilioSMSBackend(HTTPBackend):
    """``DJANGO_PUSH["BACKENDS"]["sms"] = {"BACKEND": "django_push.backends.twilio.TwilioSMSBackend",
    "OPTIONS": {"account_sid": …, "auth_token": …, "from_number": "+15005550006"}}``."""

    platform = "sms"
    default_options: ClassVar[dict[str, Any]] = {
        "account_sid": REQUIRED,
        "auth_token": REQUIRED,
        # One of the two: the sender number (E.164) or a Messaging Service (it picks the sender).
        "from_number": "",
        "messaging_service_sid": "",
        "base_url": "https://api.twilio.com",
        "max_length": TWILIO_BODY_LIMIT,
        # Twilio's API answers over HTTP/1.1.
        "http2": False,
        "status_callback": "",
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        o = self.options
        if bool(o["from_number"]) == bool(o["messaging_service_sid"]):
            raise PushConfigurationError(
                f"{self.setting_path} needs exactly one of 'from_number' (e.g. \"+15005550006\") or "
                "'messaging_service_sid' (e.g. \"MG…\")"
            )
        limit = o["max_length"]
        if not isinstance(limit, int) or not 0 < limit <= TWILIO_BODY_LIMIT:
            raise PushConfigurationError(
                f"{self.setting_path}['max_length'] must be an integer from 1 to {TWILIO_BODY_LIMIT}, "
                f"e.g. 320; got {limit!r}"
            )
        credentials = f"{o['account_sid']}:{o['auth_token']}".encode()
        self._authorization = "Basic " + base64.b64encode(credentials).decode("ascii")

    @property
    def messages_url(self) -> str:
        base = str(self.options["base_url"]).rstrip("/")
        return f"{base}/2010-04-01/Accounts/{quote(str(self.options['account_sid']), safe='')}/Messages.json"

    def build_request(self, message: PushMessage, target: Target) -> httpx.Request:
        text = sms_text(message, int(self.options["max_length"]))
        if not text:
            raise MessageRejected("An SMS needs a title or a body.", error_code="empty_message")
        form = {"To": target.address, "Body": text}
        if self.options["messaging_service_sid"]:
            form["MessagingServiceSid"] = str(self.options["messaging_service_sid"])
        else:
            form["From"] = str(self.options["from_number"])
        if self.options["status_callback"]:
            form["StatusCallback"] = str(self.options["status_callback"])
        return httpx.Request("POST", self.messages_url, data=form, headers={"accept": "application/json"})

    def authorize(self, request: httpx.Request) -> SendResult | None:
        request.headers["authorization"] = self._authorization
        return None

    def parse_response(self, target: Target, response: httpx.Response) -> SendResult:
        status = response.status_code
        body: dict[str, Any] = {}
        try:
            parsed = response.json() if response.content else {}
            body = parsed if isinstance(parsed, dict) else {}
        except ValueError:
            pass
        if 200 <= status < 300:
            return SendResult.sent(str(body.get("sid", "")), status_code=status)
        code = body.get("code")
        error_code = str(code) if code is not None else str(status)
        text = str(body.get("message") or response.reason_phrase or "")[:300]
        reason = f"Twilio answered {status}" + (f" ({code})" if code is not None else "") + f": {text}"

        def result(outcome: DeliveryStatus, **extra: Any) -> SendResult:
            return SendResult(outcome, error_code=error_code, reason=reason, status_code=status, **extra)

        if status == 401 or code == 20003:
            raise PushAuthError(
                f"Twilio refused our credentials ({reason}): check {self.setting_path}['account_sid'] and "
                "['auth_token']",
                reason=error_code,
                status_code=status,
            )
        if status == 429 or code in THROTTLE_CODES:
            return result(DeliveryStatus.THROTTLED, retry_after=retry_after_seconds(response))
        if status >= 500:
            return result(DeliveryStatus.UNAVAILABLE, retry_after=retry_after_seconds(response))
        if code in INVALID_NUMBER_CODES:
            return result(DeliveryStatus.INVALID_TOKEN)
        return result(DeliveryStatus.REJECTED)

    def check_credentials(self, *, fetch_token: bool = False) -> str:
        sid = str(self.options["account_sid"])
        return f"Twilio account {sid[:6]}… (credentials are checked on the first send)"
