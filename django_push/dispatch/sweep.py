"""Recovery: start what is due, requeue what was lost, and retry what failed."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from django_push.conf import push_settings
from django_push.dispatch.chunks import OPEN, enqueue_chunk
from django_push.dispatch.planning import enqueue_plan
from django_push.models import Delivery, Notification, NotificationStatus
from django_push.results import DeliveryStatus

#: Deliveries :func:`retry_failed` resets. FAILED ones are counted in ``Notification.failed``;
#: UNAVAILABLE ones are still open (waiting for their next attempt), so they are not.
RETRY_STATUSES = (DeliveryStatus.FAILED, DeliveryStatus.UNAVAILABLE)
RETRYABLE_NOTIFICATIONS = (NotificationStatus.DONE, NotificationStatus.FAILED, NotificationStatus.SENDING)


def send_due(now: datetime | None = None, grace: float = 60.0) -> int:
    """Start scheduled notifications that are due and re-run retries whose job was lost."""
    now = now or timezone.now()
    count = 0
    for pk in Notification.objects.filter(
        status=NotificationStatus.SCHEDULED, scheduled_at__lte=now
    ).values_list("pk", flat=True):
        enqueue_plan(pk)
        count += 1
    overdue = now - timedelta(seconds=grace)
    stale = now - timedelta(seconds=push_settings.IN_FLIGHT_TIMEOUT)
    lost = Delivery.objects.filter(
        Q(next_attempt_at__lte=overdue)
        | Q(next_attempt_at__isnull=True, claim="", created_at__lte=overdue)
        | Q(in_flight_since__lt=stale),
        status__in=OPEN,
        notification__status=NotificationStatus.SENDING,
    ).values_list("notification_id", "device_id")
    by_notification: dict[int, list[int]] = defaultdict(list)
    for notification_id, device_id in lost.iterator():
        by_notification[notification_id].append(device_id)
    for notification_id, device_ids in by_notification.items():
        for start in range(0, len(device_ids), push_settings.CHUNK_SIZE):
            enqueue_chunk(notification_id, device_ids[start : start + push_settings.CHUNK_SIZE])
            count += 1
    return count


def retry_failed(notification_id: int) -> int:
    """Reset a notification's FAILED/UNAVAILABLE deliveries to pending and send them again.

    Counters stay consistent: ``failed`` drops by the FAILED rows reset (UNAVAILABLE rows were never
    counted), the notification goes back to sending, and the chunks are queued on commit, so the rows
    are visible to whichever worker runs them. Returns how many deliveries were reset.
    """
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update()
            .filter(pk=notification_id, status__in=RETRYABLE_NOTIFICATIONS, planned_at__isnull=False)
            .first()
        )
        if notification is None:
            return 0
        rows = list(
            Delivery.objects.select_for_update()
            .filter(notification_id=notification_id, status__in=RETRY_STATUSES, claim="")
            .values_list("pk", "device_id", "status")
        )
        if not rows:
            return 0
        was_failed = sum(1 for _pk, _device, status in rows if status == DeliveryStatus.FAILED)
        Delivery.objects.filter(pk__in=[r[0] for r in rows]).update(
            status=DeliveryStatus.PENDING,
            error_code="",
            reason="",
            attempts=0,
            next_attempt_at=None,
            in_flight_since=None,
            updated_at=timezone.now(),
        )
        Notification.objects.filter(pk=notification_id).update(
            status=NotificationStatus.SENDING, finished_at=None, failed=F("failed") - was_failed
        )
        device_ids = sorted(r[1] for r in rows)
        size = push_settings.CHUNK_SIZE

        def queue() -> None:
            for start in range(0, len(device_ids), size):
                enqueue_chunk(notification_id, device_ids[start : start + size])

        transaction.on_commit(queue)
    return len(rows)
