"""The closed vocabulary of outcomes every backend speaks, and one normalized result per target."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import models
from django.utils.translation import gettext_lazy as _


class DeliveryStatus(models.TextChoices):
    """Normalized outcome of one push to one device.

    Backends return only the six service outcomes (SENT … FAILED). PENDING and SKIPPED exist for
    Delivery rows: not tried yet, or deliberately not sent (preferences, rate limits, cancel).
    """

    PENDING = "pending", _("pending")
    SENT = "sent", _("sent")
    INVALID_TOKEN = "invalid_token", _("invalid token")
    REJECTED = "rejected", _("rejected")
    THROTTLED = "throttled", _("throttled")
    UNAVAILABLE = "unavailable", _("unavailable")
    FAILED = "failed", _("failed")
    SKIPPED = "skipped", _("skipped")
    #: The request was lost with its connection and the notification's policy is at-most-once (or
    #: its retries ran out after such a loss): the service may or may not have delivered it.
    UNKNOWN = "unknown", _("unknown (may have been delivered)")

    @property
    def retryable(self) -> bool:
        return self in RETRYABLE_STATUSES

    @property
    def final(self) -> bool:
        """Whether a Delivery in this status will never be sent again."""
        return self not in (DeliveryStatus.PENDING, *RETRYABLE_STATUSES)


RETRYABLE_STATUSES = frozenset({DeliveryStatus.THROTTLED, DeliveryStatus.UNAVAILABLE})

#: ``error_code`` of a FAILED result caused by the service refusing *our* credentials: it is not the
#: device's fault, so it never counts against the device.
AUTH_ERROR_CODE = "auth"


@dataclass(frozen=True, slots=True)
class SendResult:
    """What one push service said about one target.

    ``ambiguous`` marks a failure after which the service may already have accepted the push (the
    connection was lost after the request was written): a retry may duplicate it, so it is recorded.
    ``invalid_since`` is APNs' 410 timestamp: a device registered after it stays active.
    ``counts_attempt`` is False when the service provably never processed the request (GOAWAY above
    last_stream_id, REFUSED_STREAM, no connection): retrying it costs no attempt.
    """

    status: DeliveryStatus
    message_id: str = ""
    error_code: str = ""
    reason: str = ""
    retry_after: float | None = None
    invalid_since: datetime | None = None
    ambiguous: bool = False
    status_code: int | None = None
    counts_attempt: bool = True

    @property
    def retryable(self) -> bool:
        return self.status in RETRYABLE_STATUSES

    @property
    def ok(self) -> bool:
        return self.status == DeliveryStatus.SENT

    @classmethod
    def sent(cls, message_id: str = "", status_code: int | None = 200) -> SendResult:
        return cls(DeliveryStatus.SENT, message_id=message_id, status_code=status_code)

    @classmethod
    def unavailable(
        cls, error_code: str, reason: str = "", *, ambiguous: bool = False, counts_attempt: bool = True
    ) -> SendResult:
        return cls(
            DeliveryStatus.UNAVAILABLE,
            error_code=error_code,
            reason=reason,
            ambiguous=ambiguous,
            counts_attempt=counts_attempt,
        )
