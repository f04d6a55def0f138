"""A backend's own ``retry_schedule`` replaces dispatch's backoff and budget for its platform."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

import pytest
from django.utils import timezone

from django_push import dispatch, testing
from django_push.backends.locmem import LocmemBackend
from django_push.message import PushMessage
from django_push.models import Delivery, Device
from django_push.results import DeliveryStatus

pytestmark = pytest.mark.django_db(transaction=True)

SCHEDULE = (60.0, 600.0)


def within_jitter(wait: timedelta, entry: float) -> bool:
    """The schedule's entry, jittered by at most ±10 % (so retries of many endpoints spread out)."""
    return 0.9 * entry <= wait.total_seconds() <= 1.1 * entry


class ScheduledLocmem(LocmemBackend):
    retry_schedule: ClassVar[tuple[float, ...] | None] = SCHEDULE


def test_the_schedule_sets_each_wait_and_the_number_of_retries(push_conf: Any, settings: Any, monkeypatch):
    push_conf(
        BACKENDS={**settings.DJANGO_PUSH["BACKENDS"], "webhook": {"BACKEND": f"{__name__}.ScheduledLocmem"}},
        RETRY_BUDGET=1.0,  # would give up at once: the schedule decides instead
    )
    now = [timezone.now()]
    monkeypatch.setattr(timezone, "now", lambda: now[0])
    hook = Device.objects.create(platform="webhook", address="https://hooks.example.com/a")
    testing.script_outcome(hook.address, *[DeliveryStatus.UNAVAILABLE] * 3)
    n = dispatch.send_message(PushMessage(title="x"), [hook])
    delivery = Delivery.objects.get(notification=n)
    assert delivery.status == DeliveryStatus.UNAVAILABLE
    assert within_jitter(delivery.next_attempt_at - now[0], 60)

    now[0] += timedelta(seconds=66 + settings.DJANGO_PUSH.get("SWEEP_GRACE", 60) + 1)
    dispatch.send_due()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.UNAVAILABLE, 2)
    assert within_jitter(delivery.next_attempt_at - now[0], 600)

    now[0] += timedelta(seconds=660 + settings.DJANGO_PUSH.get("SWEEP_GRACE", 60) + 1)  # the longest wait
    dispatch.send_due()
    delivery.refresh_from_db()
    # Two retries (one per entry), then given up with the reason.
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 3)
    assert "gave up after 3 attempts" in delivery.reason
