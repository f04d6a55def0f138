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


class ChannelError(PushError):
    """APNs refused a broadcast channel request (create, read, list, delete).

    ``reason`` is APNs' own (``BadChannelId``, ``ChannelNotRegistered``, ``BadMessageStoragePolicy`` …).
    """

    def __init__(self, message: str, *, reason: str = "", status_code: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.status_code = status_code


class MessageRejected(PushError):
    """The message (or its target) cannot be sent as built: reported as REJECTED and never retried.

    Raised by request builders before anything is sent; ``error_code`` is what the Delivery records.
    """

    error_code = "rejected"

    def __init__(self, message: str, *, error_code: str = "") -> None:
        super().__init__(message)
        if error_code:
            self.error_code = error_code


class PayloadTooLarge(MessageRejected):
    """The payload exceeds the service's limit."""

    error_code = "payload_too_large"

    def __init__(self, size: int, limit: int, service: str) -> None:
        super().__init__(f"{service} payload is {size} bytes, over the limit of {limit} bytes")
        self.size = size
        self.limit = limit


class InvalidTarget(MessageRejected):
    """A target cannot be addressed (e.g. a Web Push endpoint outside the allow-list)."""

    error_code = "invalid_target"


class PushConfigurationError(ImproperlyConfigured):
    """``settings.DJANGO_PUSH`` is wrong; the message names the exact setting path."""
