"""Recovery: start what is due, requeue what was lost, and retry what failed."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from django_push.conf import push_settings
from django_push.dispatch import steps
from django_push.dispatch.chunks import OPEN, enqueue_chunk
from django_push.dispatch.planning import enqueue_plan
from django_push.models import Delivery, Notification, NotificationStatus
from django_push.results import DeliveryStatus

#: Deliveries :func:`retry_failed` resets. FAILED ones are counted in ``Notification.failed``;
#: UNAVAILABLE ones are still open (waiting for their next attempt), so they are not.
RETRY_STATUSES = (DeliveryStatus.FAILED, DeliveryStatus.UNAVAILABLE)
RETRYABLE_NOTIFICATIONS = (NotificationStatus.DONE, NotificationStatus.FAILED, NotificationStatus.SENDING)


def send_due(now: datetime | None = None, grace: float | None = None) -> int:
    """Start what is due and requeue what was lost; returns how many jobs were queued.

    Run it every few seconds (django-celery-beat's entry, or ``manage.py sendduepush --every 5``).
    Recovery needs no broker tuning, because the deliveries are the ledger:

    * scheduled notifications whose time came, and notifications whose planner never ran or died
      (QUEUED or SENDING without ``planned_at`` for ``grace`` seconds) are planned (again);
    * deliveries claimed longer than ``IN_FLIGHT_TIMEOUT`` ago belong to a dead worker: requeued (the
      claim marks them ambiguous, so they are resent collapse-keyed, or closed UNKNOWN at most once);
    * planned deliveries never started, once their notification made no progress for ``grace``
      seconds (a worker died with their job prefetched), and retries whose job was lost, are requeued.
    * due escalations and digests (:mod:`.steps`) are fired or cancelled, each exactly once.
    Each requeued delivery is stamped, so a stall requeues it once per ``grace``, not on every sweep.
    """
    now = now or timezone.now()
    grace = float(push_settings.SWEEP_GRACE if grace is None else grace)
    overdue = now - timedelta(seconds=grace)
    count = 0
    due = Notification.objects.filter(
        Q(status=NotificationStatus.SCHEDULED, scheduled_at__lte=now)
        | Q(status=NotificationStatus.QUEUED, created_at__lte=overdue)
        | Q(status=NotificationStatus.SENDING, planned_at__isnull=True, started_at__lte=overdue)
    )
    count += steps.run_due(now)
    for pk in due.values_list("pk", flat=True):
        enqueue_plan(pk)
        count += 1
    stale = now - timedelta(seconds=push_settings.IN_FLIGHT_TIMEOUT)
    stalled = Q(notification__progress_at__lte=overdue) | Q(
        notification__progress_at__isnull=True, notification__started_at__lte=overdue
    )
    lost = Delivery.objects.filter(
        Q(next_attempt_at__lte=overdue)
        | (Q(next_attempt_at__isnull=True, claim="", created_at__lte=overdue) & stalled)
        | Q(in_flight_since__lt=stale),
        status__in=OPEN,
        updated_at__lte=overdue,
        notification__status=NotificationStatus.SENDING,
    )
    by_notification: dict[int, list[int]] = defaultdict(list)
    requeued: list[int] = []
    for pk, notification_id, device_id in lost.values_list("pk", "notification_id", "device_id").iterator():
        by_notification[notification_id].append(device_id)
        requeued.append(pk)
    for start in range(0, len(requeued), 1000):
        Delivery.objects.filter(pk__in=requeued[start : start + 1000]).update(updated_at=now)
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
