"""Token health: what a push service's answers do to devices.

* INVALID_TOKEN deactivates at once, with the reason, unless the device re-registered after the
  service's own "invalid since" time (APNs' 410 timestamp).
* FAILED (an error that is the device's, not the service's or ours — a refused credential is
  ours) increments ``failure_count``;
  reaching ``FAILURE_THRESHOLD`` consecutive failures deactivates. REJECTED (our payload) and
  THROTTLED/UNAVAILABLE (the service) do not count against the device.
* SENT resets the count and records ``last_success_at``.
All updates are set-based (one UPDATE per kind per batch), never a save() per device.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db.models import F, Q, QuerySet
from django.utils import timezone

from .backends.base import AUTH_ERROR_CODE
from .conf import push_settings
from .models import Device
from .results import DeliveryStatus, SendResult
from .signals import device_deactivated


def apply(outcomes: Sequence[tuple[Device, SendResult]], now: datetime | None = None) -> list[Device]:
    """Apply a batch of results to their devices; returns the devices deactivated."""
    now = now or timezone.now()
    sent_ids: list[int] = []
    failed: dict[str, list[int]] = defaultdict(list)
    invalid: dict[str, list[Device]] = defaultdict(list)
    for device, result in outcomes:
        if result.status == DeliveryStatus.SENT:
            sent_ids.append(device.pk)
        elif result.status == DeliveryStatus.INVALID_TOKEN:
            if result.invalid_since is not None and device.registered_at > result.invalid_since:
                continue  # re-registered after the service dropped the old token: still good
            invalid[_reason(result)].append(device)
        elif result.status == DeliveryStatus.FAILED and result.error_code != AUTH_ERROR_CODE:
            # Our credentials being refused is not the device's fault: it must not count against it.
            failed[_reason(result)[:255]].append(device.pk)

    if sent_ids:
        Device.objects.filter(pk__in=sent_ids).update(
            last_success_at=now, failure_count=0, last_failure_reason=""
        )
    deactivated: list[Device] = []
    for reason, devices in invalid.items():
        ids = [d.pk for d in devices]
        changed = set(_deactivate(Device.objects.filter(pk__in=ids, active=True), reason, now))
        deactivated += [_mark(d, reason) for d in devices if d.pk in changed]
    for reason, ids in failed.items():
        Device.objects.filter(pk__in=ids).update(
            failure_count=F("failure_count") + 1, last_failure_reason=reason
        )
    if failed:
        all_failed = [pk for ids in failed.values() for pk in ids]
        over = Device.objects.filter(
            pk__in=all_failed, active=True, failure_count__gte=push_settings.FAILURE_THRESHOLD
        )
        reason = f"{push_settings.FAILURE_THRESHOLD} consecutive failures"
        changed = set(_deactivate(over, reason, now))
        deactivated += [_mark(d, reason) for d, _ in outcomes if d.pk in changed]
    for device in deactivated:
        if device_deactivated.has_listeners(Device):
            device_deactivated.send(sender=Device, device=device, reason=device.deactivation_reason)
    return deactivated


def _mark(device: Device, reason: str) -> Device:
    device.active = False
    device.deactivation_reason = reason[:255]
    return device


def _reason(result: SendResult) -> str:
    return (result.error_code or result.status.value) + (f": {result.reason}" if result.reason else "")


def _deactivate(queryset: QuerySet[Device], reason: str, now: datetime) -> list[int]:
    ids = list(queryset.values_list("pk", flat=True))
    if ids:
        Device.objects.filter(pk__in=ids, active=True).update(
            active=False, deactivated_at=now, deactivation_reason=reason[:255]
        )
    return ids


def stale_devices(days: int, now: datetime | None = None) -> QuerySet[Device]:
    """Devices with no success for ``days`` (or none ever, and older than ``days``)."""
    cutoff = (now or timezone.now()) - timedelta(days=days)
    return Device.objects.filter(
        Q(last_success_at__lt=cutoff) | Q(last_success_at__isnull=True, created_at__lt=cutoff)
    )
