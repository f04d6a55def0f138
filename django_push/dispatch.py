"""The only path that sends.

``notify()`` stores a Notification and queues it on transaction commit; ``plan()`` resolves its
audience into keyset chunks of device ids and queues one job per chunk; ``process_chunk()`` claims
the chunk's open deliveries, sends them through the backends, and records answers as they arrive.
``send_message()`` is the synchronous shortcut for "this message to these devices, now".

Exactly once: Delivery rows are unique per (notification, device) and a chunk only sends rows it
claimed (an atomic UPDATE), so a re-run never resends a SENT delivery. A worker that dies after a
service accepted a push but before its answer was recorded leaves a stale claim: the rerun resends
it, marking ``ambiguous_retry`` (at-least-once there; see docs/delivery-guarantees.md).
"""

from __future__ import annotations

import concurrent.futures
import logging
import queue
import random
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.module_loading import import_string

from . import audience as audience_mod
from . import jobs, recording
from .backends import loop
from .conf import push_settings
from .exceptions import PushAuthError, PushConfigurationError
from .filters import Hold, Skip, decide
from .handler import backends
from .message import PushMessage
from .models import Delivery, Device, Notification, NotificationStatus
from .recording import Outcome
from .results import DeliveryStatus, SendResult
from .signals import pre_send

logger = logging.getLogger("django_push.dispatch")

OPEN = (DeliveryStatus.PENDING, DeliveryStatus.THROTTLED, DeliveryStatus.UNAVAILABLE)
FLUSH_INTERVAL = 0.05
DEVICE_FIELDS = (
    "id",
    "platform",
    "application",
    "address",
    "p256dh",
    "auth",
    "environment",
    "active",
    "registered_at",
    "locale",
    "time_zone",
    "owner_id",
)


def create(
    *,
    audience: dict[str, Any],
    message: PushMessage | None = None,
    created_by: Any = None,
    scheduled_at: datetime | None = None,
    notification_type: str = "",
    **fields: Any,
) -> Notification:
    """Store a notification (validated audience) without sending it."""
    audience_mod.validate(audience)
    if message is not None:
        fields = {**_fields_from_message(message), **fields}
    status = (
        NotificationStatus.SCHEDULED
        if scheduled_at and scheduled_at > timezone.now()
        else NotificationStatus.QUEUED
    )
    return Notification.objects.create(
        audience=audience,
        created_by=created_by,
        scheduled_at=scheduled_at,
        notification_type=notification_type,
        status=status,
        **fields,
    )


def notify(**kwargs: Any) -> Notification:
    """Store a notification and send it once the current transaction commits."""
    notification = create(**kwargs)
    queue_notification(notification)
    return notification


def queue_notification(notification: Notification) -> None:
    if notification.status == NotificationStatus.QUEUED:
        pk = notification.pk
        transaction.on_commit(lambda: jobs.enqueue("plan", pk))
    # SCHEDULED ones are started by send_due() when their time comes (beat, or `sendduepush`).


def send_message(
    message: PushMessage, devices: Iterable[Device], *, created_by: Any = None, notification_type: str = ""
) -> Notification:
    """Send ``message`` to ``devices`` now, synchronously, with the same record as any broadcast."""
    ids = [d.pk for d in devices]
    notification = create(
        audience={"devices": ids}, message=message, created_by=created_by, notification_type=notification_type
    )
    plan(notification.pk, inline=True)
    notification.refresh_from_db()
    return notification


def cancel(notification: Notification) -> bool:
    """Cancel a notification that has not finished; chunks not yet sent are skipped."""
    updated = Notification.objects.filter(
        pk=notification.pk,
        status__in=[
            NotificationStatus.QUEUED,
            NotificationStatus.SCHEDULED,
            NotificationStatus.SENDING,
            NotificationStatus.DRAFT,
        ],
    ).update(status=NotificationStatus.CANCELLED, finished_at=timezone.now())
    notification.refresh_from_db()
    return bool(updated)


def plan(notification_id: int, inline: bool = False) -> None:
    """Start a due notification: pre_send, then one job per keyset chunk of its audience."""
    now = timezone.now()
    started = Notification.objects.filter(
        Q(scheduled_at__isnull=True) | Q(scheduled_at__lte=now),
        pk=notification_id,
        status__in=[NotificationStatus.QUEUED, NotificationStatus.SCHEDULED],
    ).update(status=NotificationStatus.SENDING, started_at=now)
    notification = Notification.objects.filter(pk=notification_id).first()
    if notification is None:
        return
    if not started and not (
        notification.status == NotificationStatus.SENDING and notification.planned_at is None
    ):
        return  # cancelled, not due, or already planned by another run
    if started:
        responses = pre_send.send(sender=Notification, notification=notification)
        if any(response is False for _, response in responses):
            cancel(notification)
            return
    total = 0
    for ids in audience_mod.id_chunks(notification.audience, push_settings.CHUNK_SIZE):
        total += len(ids)
        if inline:
            process_chunk(notification.pk, ids)
        else:
            jobs.enqueue("chunk", notification.pk, ids)
    Notification.objects.filter(pk=notification.pk).update(targeted=total, planned_at=timezone.now())
    _maybe_finish(notification.pk)


def process_chunk(notification_id: int, device_ids: Sequence[int], attempt: int = 1) -> None:
    """Send one chunk: claim its open deliveries, send, record as answers arrive, schedule retries."""
    notification = Notification.objects.filter(pk=notification_id).first()
    if notification is None:
        return
    now = timezone.now()
    devices = {d.pk: d for d in Device.objects.filter(pk__in=device_ids).only(*DEVICE_FIELDS)}
    recording.create_deliveries(notification_id, list(devices), now)
    missing = len(set(device_ids) - set(devices))
    if missing and attempt == 1:
        # Deleted since the audience was resolved: nothing to send, but the count must add up.
        Notification.objects.filter(pk=notification_id).update(skipped=F("skipped") + missing)
    rows = _claim(notification_id, list(devices), now)
    if not rows:
        _maybe_finish(notification_id)
        return
    if notification.status == NotificationStatus.CANCELLED:
        recording.skip(notification, [r[0] for r in rows], "notification cancelled", now)
        _maybe_finish(notification_id)
        return
    inactive = [r[0] for r in rows if not devices[r[1]].active]
    recording.skip(notification, inactive, "device inactive", now)
    rows = [r for r in rows if devices[r[1]].active]
    rows, held_until = _apply_filters(notification, rows, devices, now)
    retry = _send_and_record(notification, rows, devices)
    if retry:
        _schedule_retry(notification, [pk for pk, _ in retry], max(ra for _, ra in retry), attempt)
    if held_until:
        ids = [pk for pk, _ in held_until]
        jobs.enqueue(
            "chunk",
            notification_id,
            ids,
            countdown=max(0.0, (max(until for _, until in held_until) - timezone.now()).total_seconds()),
        )
    _maybe_finish(notification_id)


def _claim(notification_id: int, device_ids: list[int], now: datetime) -> list[tuple[int, int, int]]:
    """Atomically take the chunk's open deliveries; returns (delivery id, device id, attempts)."""
    claim = uuid.uuid4().hex
    stale = now - timedelta(seconds=push_settings.IN_FLIGHT_TIMEOUT)
    claimable = Delivery.objects.filter(
        Q(claim="") | Q(in_flight_since__lt=stale),
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now),
        notification_id=notification_id,
        device_id__in=device_ids,
        status__in=OPEN,
    )
    # A stale claim means a worker died mid-send: the service may already have the push.
    claimable.exclude(claim="").update(ambiguous_retry=True)
    if not claimable.update(claim=claim, in_flight_since=now, next_attempt_at=None):
        return []
    return list(
        Delivery.objects.filter(notification_id=notification_id, claim=claim).values_list(
            "id", "device_id", "attempts"
        )
    )


def _apply_filters(
    notification: Notification, rows: list[tuple[int, int, int]], devices: dict[int, Device], now: datetime
) -> tuple[list[tuple[int, int, int]], list[tuple[int, datetime]]]:
    if not rows or not push_settings.DELIVERY_FILTERS:
        return rows, []
    decisions = decide(notification, [devices[r[1]] for r in rows])
    keep, held = [], []
    skipped: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        decision = decisions.get(row[1])
        if isinstance(decision, Skip):
            skipped[decision.reason].append(row[0])
        elif isinstance(decision, Hold):
            Delivery.objects.filter(pk=row[0]).update(
                claim="", in_flight_since=None, next_attempt_at=decision.until, reason=decision.reason
            )
            held.append((row[1], decision.until))
        else:
            keep.append(row)
    for reason, ids in skipped.items():
        recording.skip(notification, ids, reason, now)
    return keep, held


def _render(notification: Notification, devices: Sequence[Device]) -> dict[int, PushMessage]:
    path = push_settings.MESSAGE_RENDERER
    if not path:
        message = notification.to_message()
        return {d.pk: message for d in devices}
    renderer = import_string(path) if isinstance(path, str) else path
    return {d.pk: renderer(notification, d) for d in devices}


def _send_and_record(
    notification: Notification, rows: list[tuple[int, int, int]], devices: dict[int, Device]
) -> list[tuple[int, float]]:
    """Send every row, recording answers in small batches while the rest are in flight."""
    if not rows:
        return []
    messages = _render(notification, [devices[r[1]] for r in rows])
    groups: dict[tuple[str, str, int], list[tuple[int, int, int]]] = defaultdict(list)
    for row in rows:
        device = devices[row[1]]
        groups[(device.platform, device.application, id(messages[device.pk]))].append(row)

    answers: queue.SimpleQueue[Outcome] = queue.SimpleQueue()
    jobs_to_run = []
    retry: list[tuple[int, float]] = []
    for (platform, application, _), group in groups.items():
        outcomes = [Outcome(r[0], r[2], devices[r[1]], SendResult(DeliveryStatus.PENDING)) for r in group]
        try:
            backend = backends[platform, application]
        except PushConfigurationError as exc:
            failed = SendResult(DeliveryStatus.FAILED, error_code="configuration", reason=str(exc))
            retry += recording.record(notification, [_with(o, failed) for o in outcomes], timezone.now())
            continue
        message = messages[group[0][1]]
        targets = [devices[r[1]].to_target() for r in group]

        def on_result(index: int, result: SendResult, _outcomes: list[Outcome] = outcomes) -> None:
            answers.put(_with(_outcomes[index], result))

        jobs_to_run.append(backend.asend(message, targets, on_result=on_result))

    if jobs_to_run:
        future = loop.run_soon(_gather(jobs_to_run))
        while True:
            done, _ = concurrent.futures.wait([future], timeout=FLUSH_INTERVAL)
            retry += recording.record(notification, _drain(answers), timezone.now())
            if done:
                break
        error = future.exception()
        if error is not None:
            raise error
    return retry


async def _gather(coros: list[Any]) -> None:
    import asyncio

    results = await asyncio.gather(*coros, return_exceptions=True)
    for result in results:
        if isinstance(result, PushAuthError):
            logger.error("push service refused our credentials: %s", result)
        elif isinstance(result, BaseException):
            raise result


def _with(outcome: Outcome, result: SendResult) -> Outcome:
    return Outcome(outcome.delivery_id, outcome.attempts, outcome.device, result)


def _drain(answers: queue.SimpleQueue[Outcome]) -> list[Outcome]:
    batch = []
    while True:
        try:
            batch.append(answers.get_nowait())
        except queue.Empty:
            return batch


def backoff(attempt: int) -> float:
    """Exponential backoff with jitter: base·2^(attempt-1), capped, times a random 0.5–1.0."""
    base = float(push_settings.RETRY_BACKOFF_BASE)
    cap = float(push_settings.RETRY_BACKOFF_MAX)
    return min(cap, base * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)


def _schedule_retry(
    notification: Notification, device_ids: list[int], retry_after: float, attempt: int
) -> None:
    """Retry only the retryable devices, after the larger of Retry-After and the backoff."""
    delay = max(retry_after, backoff(attempt))
    Delivery.objects.filter(notification=notification, device_id__in=device_ids, status__in=OPEN).update(
        next_attempt_at=timezone.now() + timedelta(seconds=delay)
    )
    jobs.enqueue("chunk", notification.pk, device_ids, attempt + 1, countdown=delay)


def _maybe_finish(notification_id: int) -> None:
    """Mark done once planned and every targeted delivery has a final outcome.

    Judged by the counters, which move in the same transaction as the delivery rows: a chunk that
    has not started yet has no rows, so "no open rows" alone would finish too early.
    """
    n = Notification.objects.filter(pk=notification_id).first()
    if n is None or n.planned_at is None or n.status != NotificationStatus.SENDING:
        return
    if n.sent + n.failed + n.invalid + n.skipped < n.targeted:
        return
    status = (
        NotificationStatus.FAILED if (n.targeted and not n.sent and n.failed) else NotificationStatus.DONE
    )
    Notification.objects.filter(pk=notification_id, status=NotificationStatus.SENDING).update(
        status=status, finished_at=timezone.now()
    )


def send_due(now: datetime | None = None, grace: float = 60.0) -> int:
    """Start scheduled notifications that are due and re-run retries whose job was lost."""
    now = now or timezone.now()
    count = 0
    for pk in Notification.objects.filter(
        status=NotificationStatus.SCHEDULED, scheduled_at__lte=now
    ).values_list("pk", flat=True):
        jobs.enqueue("plan", pk)
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
            jobs.enqueue("chunk", notification_id, device_ids[start : start + push_settings.CHUNK_SIZE])
            count += 1
    return count


def _fields_from_message(message: PushMessage) -> dict[str, Any]:
    from .models import MESSAGE_OPTION_FIELDS

    options = {
        k: getattr(message, k)
        for k in MESSAGE_OPTION_FIELDS
        if getattr(message, k) not in (None, "", [], False)
    }
    return {
        "title": message.title,
        "body": message.body,
        "data": message.data,
        "priority": message.priority,
        "ttl": message.ttl,
        "collapse_key": message.collapse_key,
        "push_type": message.push_type,
        "overrides": message.overrides,
        "options": options,
    }
