"""In-memory backend for tests: records every push in :data:`outbox` (also ``django_push.testing.outbox``).

It runs the real pipeline (option checks, the base class's send loop, dispatch's bookkeeping) and
answers with scripted outcomes, so a site's tests can assert what was sent and rehearse failures.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Any, ClassVar

from django_push.backends.apns_channels import LocalChannelsMixin
from django_push.backends.base import BaseBackend
from django_push.message import PushMessage, Target
from django_push.results import DeliveryStatus, SendResult


@dataclass(frozen=True)
class OutboxEntry:
    platform: str
    application: str
    message: PushMessage
    target: Target
    result: SendResult


outbox: list[OutboxEntry] = []
_outcomes: dict[str, deque[SendResult]] = {}
_lock = threading.Lock()


def _as_result(outcome: SendResult | DeliveryStatus | str) -> SendResult:
    if isinstance(outcome, SendResult):
        return outcome
    status = DeliveryStatus(outcome)
    if status == DeliveryStatus.SENT:
        return SendResult.sent("locmem")
    return SendResult(status, error_code=f"scripted_{status.value}", reason="scripted outcome")


def script_outcome(address: str, *outcomes: SendResult | DeliveryStatus | str) -> None:
    """Queue outcomes for the next sends to ``address`` (a token or endpoint); then SENT again."""
    with _lock:
        _outcomes.setdefault(address, deque()).extend(_as_result(o) for o in outcomes)


def next_outcome(address: str, static: dict[str, Any] | None = None) -> SendResult:
    with _lock:
        queued = _outcomes.get(address)
        if queued:
            return queued.popleft()
    if static and address in static:
        return _as_result(static[address])
    return SendResult.sent("locmem")


class LocmemBackend(LocalChannelsMixin, BaseBackend):
    default_options: ClassVar[dict[str, Any]] = {"outcomes": None}

    async def send_one(self, message: PushMessage, target: Target) -> SendResult:
        result = next_outcome(target.address, self.options["outcomes"])
        outbox.append(
            OutboxEntry(
                platform=self.platform,
                application=self.application,
                message=message,
                target=target,
                result=result,
            )
        )
        return result


def clear() -> None:
    """Empty the outbox and forget scripted outcomes."""
    with _lock:
        outbox.clear()
        _outcomes.clear()
