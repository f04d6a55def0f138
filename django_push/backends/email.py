"""E-mail through Django's own mail connection, so any EMAIL_BACKEND works unchanged: SMTP, console,
locmem in tests, and django-anymail's ESPs (SES, Mailgun, Postmark …).

The message comes rendered (``overrides["email"]``: subject, text, html, headers; see
:mod:`django_push.compose.email`); without it the title is the subject and the body the text. The
backend builds an ``EmailMultiAlternatives`` per address and sends it on a worker thread (Django's
mail API is synchronous). It never touches the database.

Answers map like push answers: a refused recipient (``SMTPRecipientsRefused``, anymail's
``AnymailRecipientsRefused``) is INVALID_TOKEN, so the address is deactivated; an ESP's 429 is
THROTTLED, its 5xx and connection errors UNAVAILABLE (retried); anything else FAILED.
"""

from __future__ import annotations

import asyncio
import smtplib
from typing import Any, ClassVar

from django.core.mail import EmailMultiAlternatives, get_connection

from django_push.backends.base import BaseBackend
from django_push.message import PushMessage, Target
from django_push.results import DeliveryStatus, SendResult


class EmailBackend(BaseBackend):
    platform = "email"
    default_options: ClassVar[dict[str, Any]] = {
        # Dotted path of a Django e-mail backend; None: settings.EMAIL_BACKEND.
        "backend": None,
        # From address; None: settings.DEFAULT_FROM_EMAIL.
        "from_email": None,
        # Keyword arguments for get_connection (host, port, username … for SMTP).
        "connection_options": {},
        "max_concurrency": 4,
    }

    def build(self, message: PushMessage, target: Target) -> EmailMultiAlternatives:
        """The e-mail for one address (pure: no I/O)."""
        rendered = message.overrides.get("email") or {}
        subject = str(rendered.get("subject") or message.title)
        text = str(rendered.get("text") or message.body)
        email = EmailMultiAlternatives(
            subject=" ".join(subject.split()),
            body=text,
            from_email=self.options["from_email"],
            to=[target.address],
            headers=dict(rendered.get("headers") or {}),
        )
        if rendered.get("html"):
            email.attach_alternative(str(rendered["html"]), "text/html")
        return email

    async def send_one(self, message: PushMessage, target: Target) -> SendResult:
        email = self.build(message, target)
        try:
            await asyncio.to_thread(self._deliver, email)
        except Exception as exc:
            return self.interpret_error(exc)
        status = getattr(email, "anymail_status", None)
        return SendResult.sent(str(getattr(status, "message_id", "") or ""), status_code=None)

    def _deliver(self, email: EmailMultiAlternatives) -> None:
        connection = get_connection(
            self.options["backend"], fail_silently=False, **dict(self.options["connection_options"])
        )
        connection.send_messages([email])

    @staticmethod
    def interpret_error(exc: BaseException) -> SendResult:
        """One table from mail errors to results (SMTP's and anymail's, by duck typing)."""
        name = type(exc).__name__
        if isinstance(exc, smtplib.SMTPRecipientsRefused) or name == "AnymailRecipientsRefused":
            return SendResult(
                DeliveryStatus.INVALID_TOKEN, error_code="recipient_refused", reason=str(exc)[:500]
            )
        http = getattr(exc, "status_code", None)  # an ESP's HTTP answer (anymail)
        smtp = getattr(exc, "smtp_code", None)  # an SMTP server's reply code
        reason = str(exc)[:500]
        if http == 429:
            return SendResult(DeliveryStatus.THROTTLED, error_code="429", reason=reason)
        if (isinstance(http, int) and http >= 500) or (isinstance(smtp, int) and 400 <= smtp < 500):
            return SendResult.unavailable(str(http or smtp), reason)
        if isinstance(exc, smtplib.SMTPServerDisconnected | ConnectionError | TimeoutError):
            return SendResult.unavailable(name[:64], reason)
        return SendResult(DeliveryStatus.FAILED, error_code=name[:64], reason=reason)
