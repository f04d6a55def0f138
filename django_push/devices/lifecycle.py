"""Token health: what a push service's answers do to devices.

* INVALID_TOKEN deactivates at once, with the reason, unless the device re-registered after the
  service's own "invalid since" time (APNs' 410 timestamp): then the token may be good again, so it
  is not deactivated at once, but each such answer counts as a failure (a re-registration the
  service keeps refusing is deactivated after ``FAILURE_THRESHOLD`` of them, not pushed forever).
* FAILED (an error that is the device's, not the service's or ours — a refused credential is
  ours) increments ``failure_count``;
  reaching ``FAILURE_THRESHOLD`` consecutive failures deactivates. REJECTED (our payload) and
  THROTTLED/UNAVAILABLE (the service) do not count against the device.
* SENT resets the count and records ``last_success_at``; a SENT Live Activity ``end`` also retires
  the activity's update token (:func:`retire_ended_activities`): the activity is over.
All updates are set-based (one UPDATE per kind per batch), never a save() per device.

:func:`activate` and :func:`deactivate` are the only ways a device changes state: registration, the
admin's actions, cleanup and the answers of the push services all call them, so the same fields are
set everywhere and ``device_deactivated`` is always sent.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db.models import F, Q, QuerySet
from django.utils import timezone

from django_push.conf import push_settings
from django_push.models import Device, DeviceKind, Notification, Platform
from django_push.models.sql import AnyOf
from django_push.results import AUTH_ERROR_CODE, DeliveryStatus, SendResult
from django_push.signals import device_deactivated


def apply(outcomes: Sequence[tuple[Device, SendResult]], now: datetime | None = None) -> int:
    """Apply a batch of results to their devices; returns how many were deactivated."""
    now = now or timezone.now()
    sent_ids: list[int] = []
    failed: dict[str, list[int]] = defaultdict(list)
    invalid: dict[str, list[Device]] = defaultdict(list)
    for device, result in outcomes:
        if result.status == DeliveryStatus.SENT:
            sent_ids.append(device.pk)
        elif result.status == DeliveryStatus.INVALID_TOKEN:
            if result.invalid_since is not None and device.registered_at > result.invalid_since:
                # Re-registered after the service dropped the old token: maybe good again, so not
                # deactivated at once — but it counts, or a refused re-registration lives forever.
                failed[_reregistered_reason(result)].append(device.pk)
                continue
            invalid[_reason(result)].append(device)
        elif (
            result.status == DeliveryStatus.FAILED
            and result.error_code != AUTH_ERROR_CODE
            and device.platform != Platform.WEBHOOK  # endpoints have their own rule (devices.webhooks)
        ):
            # Our credentials being refused is not the device's fault: it must not count against it.
            failed[_reason(result)[:255]].append(device.pk)

    if sent_ids:
        Device.objects.filter(AnyOf("pk", sent_ids)).update(
            last_success_at=now, failure_count=0, last_failure_reason=""
        )
    deactivated = 0
    for reason, devices in invalid.items():
        deactivated += deactivate(Device.objects.filter(pk__in=[d.pk for d in devices]), reason, now)
    for reason, ids in failed.items():
        Device.objects.filter(pk__in=ids).update(
            failure_count=F("failure_count") + 1, last_failure_reason=reason
        )
    if failed:
        threshold = push_settings.FAILURE_THRESHOLD
        all_failed = [pk for ids in failed.values() for pk in ids]
        over: dict[str, list[int]] = defaultdict(list)
        for pk, reason in Device.objects.filter(
            pk__in=all_failed, active=True, failure_count__gte=threshold
        ).values_list("pk", "last_failure_reason"):
            over[reason].append(pk)
        for reason, ids in over.items():
            deactivated += deactivate(
                Device.objects.filter(pk__in=ids),
                f"{threshold} consecutive failures, the last: {reason}",
                now,
            )
    return deactivated


#: What "active again" means, wherever a device is re-activated (registration, the admin).
ACTIVE_FIELDS: dict[str, object] = {
    "active": True,
    "deactivated_at": None,
    "deactivation_reason": "",
    "failure_count": 0,
    "last_failure_reason": "",
}


def activate(devices: QuerySet[Device]) -> int:
    """Re-activate inactive devices and forget their past failures; returns how many changed."""
    return devices.filter(active=False).update(**ACTIVE_FIELDS)


def reactivate(device: Device, now: datetime) -> None:
    """A registration is the app saying "this address works": mark it so (the caller saves)."""
    for field, value in ACTIVE_FIELDS.items():
        setattr(device, field, value)
    device.registered_at = device.last_seen_at = now


def deactivate(devices: QuerySet[Device], reason: str, now: datetime | None = None) -> int:
    """Deactivate the active ones among ``devices`` with ``reason``; sends ``device_deactivated``
    for each. Returns how many changed. Devices are fetched only when someone listens to the signal,
    so a cleanup of millions of rows stays one UPDATE per batch."""
    now = now or timezone.now()
    reason = reason[:255]
    fields = {"active": False, "deactivated_at": now, "deactivation_reason": reason}
    targets = devices.filter(active=True)
    if not device_deactivated.has_listeners(Device):
        return targets.update(**fields)
    changed = list(targets)
    count = Device.objects.filter(pk__in=[d.pk for d in changed], active=True).update(**fields)
    for device in changed:
        for field, value in fields.items():
            setattr(device, field, value)
        device_deactivated.send(sender=Device, device=device, reason=reason)
    return count


def _reason(result: SendResult) -> str:
    return (result.error_code or result.status.value) + (f": {result.reason}" if result.reason else "")


def _reregistered_reason(result: SendResult) -> str:
    """E.g. "410 Unregistered after re-registration"."""
    answer = result.error_code or result.status.value
    if result.status_code is not None:
        answer = f"{result.status_code} {answer}"
    return f"{answer} after re-registration"[:255]


def stale_devices(days: int, now: datetime | None = None) -> QuerySet[Device]:
    """Devices with no success for ``days`` (or none ever, and older than ``days``)."""
    cutoff = (now or timezone.now()) - timedelta(days=days)
    return Device.objects.filter(
        Q(last_success_at__lt=cutoff) | Q(last_success_at__isnull=True, created_at__lt=cutoff)
    )


ACTIVITY_ENDED = "activity ended"


def retire_ended_activities(
    notification: Notification, outcomes: Sequence[tuple[Device, SendResult]], now: datetime
) -> int:
    """Deactivate the update tokens an ``end`` Live Activity push reached: the activity is over, and
    its token will never be valid again. Called by dispatch with every batch of answers; a no-op for
    any other notification. Returns how many were retired."""
    spec = (notification.options or {}).get("live_activity") or {}
    if notification.push_type != "liveactivity" or spec.get("event") != "end":
        return 0
    ids = [device.pk for device, result in outcomes if result.status == DeliveryStatus.SENT]
    if not ids:
        return 0
    tokens = Device.objects.filter(pk__in=ids, kind=DeviceKind.LIVEACTIVITY_UPDATE)
    return deactivate(tokens, ACTIVITY_ENDED, now)
