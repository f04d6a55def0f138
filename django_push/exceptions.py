"""Exceptions raised by django_push.

Per-target problems (a dead token, a throttled request) are *results*, never exceptions: see
:mod:`django_push.results`. Exceptions are for "cannot continue at all".
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured


class PushError(Exception):
    """Base of every runtime error raised while sending."""


class PushAuthError(PushError):
    """The push service refused our credentials; no target in the batch can be sent.

    Carries the service's own reason (e.g. ``InvalidProviderToken``) so an operator can act on it.
    """

    def __init__(self, message: str, *, reason: str = "", status_code: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.status_code = status_code


class PayloadTooLarge(PushError):
    """The payload exceeds the service's limit; raised by request builders, reported as REJECTED."""

    def __init__(self, size: int, limit: int, service: str) -> None:
        super().__init__(f"{service} payload is {size} bytes, over the limit of {limit} bytes")
        self.size = size
        self.limit = limit


class InvalidTarget(PushError):
    """A target cannot be addressed (e.g. a Web Push endpoint outside the allow-list)."""


class PushConfigurationError(ImproperlyConfigured):
    """``settings.DJANGO_PUSH`` is wrong; the message names the exact setting path."""
