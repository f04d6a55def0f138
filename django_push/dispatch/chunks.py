"""One chunk of a notification: claim its open deliveries, filter, send, record, schedule retries.

Exactly once: Delivery rows are unique per (notification, device) and a chunk only sends rows it
claimed (an atomic UPDATE), so a re-run never resends a SENT delivery. A worker that dies after a
service accepted a push but before its answer was recorded leaves a stale claim: the rerun resends
it, marking ``ambiguous_retry`` (at-least-once there; see docs/delivery-guarantees.md).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import logging
import queue
import uuid
from collections import defaultdict, deque
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db.models import F, Q
from django.utils import timezone

from django_push.conf import PUSH_PLATFORMS, push_settings
from django_push.dispatch import engagement, jobs, recording
from django_push.dispatch.backoff import backoff
from django_push.dispatch.filters import Hold, Skip, decide
from django_push.dispatch.recording import Outcome, retry_schedule
from django_push.dispatch.webhooks import event_type_filter, webhook_targets
from django_push.exceptions import PushAuthError, PushConfigurationError
from django_push.handler import backends
from django_push.message import PushMessage
from django_push.models import Delivery, DeliveryPolicy, Device, Notification, NotificationStatus, Platform
from django_push.models.sql import AnyOf
from django_push.results import DeliveryStatus, SendResult
from django_push.transport import loop

logger = logging.getLogger("django_push.dispatch")

#: The Celery task that runs :func:`process_chunk` on a worker (see django_push.tasks).
CHUNK_TASK = "django_push.send_chunk"
EMAIL = "email"
OPEN = (DeliveryStatus.PENDING, DeliveryStatus.THROTTLED, DeliveryStatus.UNAVAILABLE)
FLUSH_INTERVAL = 0.05
DEVICE_FIELDS = (
    "id",
    "public_id",
    "platform",
    "application",
    "address",
    "p256dh",
    "auth",
    "push_manager",
    "environment",
    "active",
    "registered_at",
    "locale",
    "time_zone",
    "owner_id",
)


def enqueue_chunk(
    notification_id: int, device_ids: Sequence[int], attempt: int = 1, countdown: float | None = None
) -> None:
    """Queue :func:`process_chunk` for these devices (a Celery task, or inline)."""
    args: tuple[Any, ...] = (
        (notification_id, list(device_ids)) if attempt == 1 else (notification_id, list(device_ids), attempt)
    )
    jobs.enqueue(CHUNK_TASK, process_chunk, *args, countdown=countdown)


def process_chunk(notification_id: int, device_ids: Sequence[int], attempt: int = 1) -> None:
    """Send one job's devices: claim their open deliveries, send, record as answers arrive, schedule
    retries. A job of more than ``CHUNK_SIZE`` devices (the planner gives a Celery task
    ``CHUNKS_PER_TASK`` chunks) runs as that many chunks, pipelined (:func:`process_chunks`)."""
    size = push_settings.CHUNK_SIZE
    if len(device_ids) > size:
        chunks = (device_ids[start : start + size] for start in range(0, len(device_ids), size))
        process_chunks(notification_id, chunks, attempt)
        return
    batch = _prepare(notification_id, device_ids, attempt)
    if batch is not None:
        _finish(_start(batch))


#: Chunks in flight at once in :func:`process_chunks`: while the oldest one's answers are written,
#: the newer ones keep the wire full (with two, the wire ran dry whenever recording a chunk took
#: longer than sending the next).
PIPELINE_DEPTH = 3


def process_chunks(notification_id: int, chunks: Iterable[Sequence[int]], attempt: int = 1) -> None:
    """Send several chunks of one notification, pipelined: the database work of the next chunks
    (claim, filters, rendering) runs while earlier ones' pushes are in flight, and up to
    :data:`PIPELINE_DEPTH` chunks are in flight, so the wire stays full across chunk boundaries and
    while answers are written. Used by the inline planner and by multi-chunk jobs; each chunk is
    claimed, recorded and retried exactly as :func:`process_chunk` does it."""
    in_flight: deque[_InFlight] = deque()
    for device_ids in chunks:
        batch = _prepare(notification_id, device_ids, attempt)
        if batch is not None:
            in_flight.append(_start(batch))
        while len(in_flight) >= PIPELINE_DEPTH or (in_flight and in_flight[0].done()):
            _finish(in_flight.popleft())
    while in_flight:
        _finish(in_flight.popleft())


@dataclasses.dataclass
class _Batch:
    """A chunk after its database work: what to send, and what waits."""

    notification: Notification
    attempt: int
    rows: list[Row]
    devices: dict[int, Device]
    held_until: list[tuple[int, datetime]]


@dataclasses.dataclass
class _InFlight:
    batch: _Batch
    future: concurrent.futures.Future[None] | None
    answers: queue.SimpleQueue[Outcome]
    retry: list[tuple[int, float]]

    def done(self) -> bool:
        """Every push of the chunk was answered (its answers may still wait to be written)."""
        return self.future is None or self.future.done()


def _prepare(notification_id: int, device_ids: Sequence[int], attempt: int) -> _Batch | None:
    notification = Notification.objects.filter(pk=notification_id).first()
    if notification is None:
        return None
    now = timezone.now()
    devices = {d.pk: d for d in Device.objects.filter(AnyOf("pk", device_ids)).only(*DEVICE_FIELDS)}
    missing = len(set(device_ids) - set(devices))
    if missing and attempt == 1:
        # Deleted since the audience was resolved: nothing to send, but the count must add up.
        Notification.objects.filter(pk=notification_id).update(skipped=F("skipped") + missing)
    rows = _claim(notification, list(devices), now)
    if not rows and attempt == 1 and devices and not _planned(notification_id, list(devices)):
        # A job queued before its deliveries were planned (by an older version): plan them now.
        recording.create_deliveries(notification_id, list(devices), now)
        rows = _claim(notification, list(devices), now)
    if not rows:
        maybe_finish(notification_id)
        return None
    if notification.status == NotificationStatus.CANCELLED:
        recording.skip(notification, [r[0] for r in rows], "notification cancelled", now)
        maybe_finish(notification_id)
        return None
    inactive = [r[0] for r in rows if not devices[r[1]].active]
    recording.skip(notification, inactive, "device inactive", now)
    rows = [r for r in rows if devices[r[1]].active]
    rows, held_until = _apply_filters(notification, rows, devices, now)
    return _Batch(notification, attempt, rows, devices, held_until)


def _planned(notification_id: int, device_ids: list[int]) -> bool:
    return Delivery.objects.filter(notification_id=notification_id, device_id__in=device_ids).exists()


def _finish(flight: _InFlight) -> None:
    """Record the chunk's answers as they arrive, then schedule its retries and held deliveries."""
    batch = flight.batch
    notification, retry = batch.notification, flight.retry
    if flight.future is not None:
        while True:
            done, _ = concurrent.futures.wait([flight.future], timeout=FLUSH_INTERVAL)
            retry += recording.record(notification, _drain(flight.answers), timezone.now())
            if done:
                break
        error = flight.future.exception()
        if error is not None:
            raise error
    # One retry job per schedule: a webhook's retry schedule (hours) must not hold back a push's.
    by_schedule: dict[tuple[float, ...] | None, list[tuple[int, float]]] = defaultdict(list)
    for pk, retry_after in retry:
        device = batch.devices.get(pk)
        by_schedule[retry_schedule(device) if device is not None else None].append((pk, retry_after))
    for schedule, group in by_schedule.items():
        _schedule_retry(
            notification, [pk for pk, _ in group], max(ra for _, ra in group), batch.attempt, schedule
        )
    if batch.held_until:
        ids = [pk for pk, _ in batch.held_until]
        until = max(until for _, until in batch.held_until)
        enqueue_chunk(notification.pk, ids, countdown=max(0.0, (until - timezone.now()).total_seconds()))
    maybe_finish(notification.pk)


Row = tuple[int, int, int, bool, datetime]  # delivery id, device id, attempts, ambiguous before, planned at


def _claim(notification: Notification, device_ids: list[int], now: datetime) -> list[Row]:
    """Atomically take the chunk's open deliveries.

    A stale claim means a worker died mid-send: the service may already have the push. Under the
    at-least-once policy it is resent, flagged and collapse-keyed; under at-most-once it is closed
    as UNKNOWN instead.
    """
    claim = uuid.uuid4().hex
    stale = now - timedelta(seconds=push_settings.IN_FLIGHT_TIMEOUT)
    claimable = Delivery.objects.filter(
        Q(claim="") | Q(in_flight_since__lt=stale),
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now),
        AnyOf("device_id", device_ids),
        notification_id=notification.pk,
        status__in=OPEN,
    )
    orphaned = claimable.exclude(claim="")
    if notification.delivery_policy == DeliveryPolicy.AT_MOST_ONCE:
        lost = list(orphaned.values_list("pk", flat=True))
        recording.record_unknown(notification, lost, "in flight when its worker stopped (at-most-once)", now)
    else:
        orphaned.update(ambiguous_retry=True)
    if not claimable.update(claim=claim, in_flight_since=now, next_attempt_at=None):
        return []
    return list(
        Delivery.objects.filter(notification_id=notification.pk, claim=claim).values_list(
            "id", "device_id", "attempts", "ambiguous_retry", "created_at"
        )
    )


def _apply_filters(
    notification: Notification, rows: list[Row], devices: dict[int, Device], now: datetime
) -> tuple[list[Row], list[tuple[int, datetime]]]:
    hooks = any(devices[r[1]].platform == Platform.WEBHOOK for r in rows)
    if not rows or not (push_settings.DELIVERY_FILTERS or hooks):
        return rows, []
    listed = [devices[r[1]] for r in rows]
    decisions = event_type_filter(notification, listed) if hooks else {}
    for device_id, decided in decide(notification, listed).items():
        decisions.setdefault(device_id, decided)
    keep: list[Row] = []
    held: list[tuple[int, datetime]] = []
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


def dedupe_key(notification: Notification) -> str:
    """The collapse identifier of every push of ``notification`` that sets none of its own."""
    return f"dp-{notification.public_id.hex[:24]}"


def _render(
    notification: Notification, rows: Sequence[Row], devices: dict[int, Device]
) -> tuple[dict[int, PushMessage], dict[int, int]]:
    """Each row's message (one object per distinct message, so backends batch them). Under the
    at-least-once policy every push carries the notification's dedupe key, and a resend after a
    lost connection is marked so FCM collapses it too.

    With engagement tracking on, each push also carries its delivery's signed reference in its data
    (:mod:`.engagement`), so every row gets its own message: the backends stay pure translators of
    (message, targets), at the cost of one payload encoding per device instead of per batch. The
    second mapping names, per row, the message it varies (``id`` of it): rows that share one are
    sent as one backend batch with per-target messages."""
    renderer = push_settings.imported("MESSAGE_RENDERER")
    shared = notification.to_message() if renderer is None else None
    email_renderer = (
        push_settings.imported("EMAIL_RENDERER")
        if any(devices[r[1]].platform == EMAIL for r in rows)
        else None
    )
    key = dedupe_key(notification) if notification.delivery_policy != DeliveryPolicy.AT_MOST_ONCE else ""
    variants: dict[tuple[int, bool], PushMessage] = {}
    messages: dict[int, PushMessage] = {}
    shared_by: dict[int, int] = {}
    # Push only: an e-mail, a text message or a webhook has no app or service worker to report opens,
    # and a Live Activity update is shown by the system, never opened as a notification.
    tracked = notification.push_type != "liveactivity"
    refs = engagement.references(
        notification, [devices[r[1]] for r in rows if tracked and devices[r[1]].platform in PUSH_PLATFORMS]
    )
    for row in rows:
        device = devices[row[1]]
        if device.platform == EMAIL and email_renderer is not None:
            # One message per address: subject, bodies and unsubscribe links are per user.
            messages[row[0]] = email_renderer(notification, device)
            shared_by[row[0]] = id(messages[row[0]])
            continue
        base = shared if shared is not None else renderer(notification, device)
        resend = bool(key) and row[3]
        variant = variants.get((id(base), resend))
        if variant is None:
            variant = base
            if key and not base.collapse_key:
                variant = dataclasses.replace(base, dedupe_key=key, resend=resend)
            elif resend:
                variant = dataclasses.replace(base, resend=True)
            variants[(id(base), resend)] = variant
        shared_by[row[0]] = id(variant)
        reference = refs.get(row[1])
        if reference:
            variant = dataclasses.replace(variant, data={**variant.data, engagement.REFERENCE_KEY: reference})
        messages[row[0]] = variant
    return messages, shared_by


def _start(batch: _Batch) -> _InFlight:
    """Hand the chunk's pushes to the backends on the push loop; answers arrive on a queue."""
    notification, rows, devices = batch.notification, batch.rows, batch.devices
    answers: queue.SimpleQueue[Outcome] = queue.SimpleQueue()
    retry: list[tuple[int, float]] = []
    if not rows:
        return _InFlight(batch, None, answers, retry)
    messages, shared_by = _render(notification, rows, devices)
    # One backend batch per (platform, application, message before its per-delivery reference).
    groups: dict[tuple[str, str, int], list[Row]] = defaultdict(list)
    for row in rows:
        device = devices[row[1]]
        groups[(device.platform, device.application, shared_by[row[0]])].append(row)
    jobs_to_run = []
    for (platform, application, _), group in groups.items():
        outcomes = [
            Outcome(r[0], r[2], devices[r[1]], SendResult(DeliveryStatus.PENDING), r[3], r[4]) for r in group
        ]
        try:
            backend = backends[platform, application]
        except PushConfigurationError as exc:
            failed = SendResult(DeliveryStatus.FAILED, error_code="configuration", reason=str(exc))
            retry += recording.record(notification, [_with(o, failed) for o in outcomes], timezone.now())
            continue
        message = messages[group[0][0]]
        per_target: list[PushMessage] | None = None
        if platform == Platform.WEBHOOK:
            message, targets = webhook_targets(notification, message, [devices[r[1]] for r in group])
        else:
            targets = [devices[r[1]].to_target() for r in group]
            if any(messages[r[0]] is not message for r in group):
                per_target = [messages[r[0]] for r in group]

        def on_result(index: int, result: SendResult, _outcomes: list[Outcome] = outcomes) -> None:
            answers.put(_with(_outcomes[index], result))

        jobs_to_run.append(backend.asend(message, targets, on_result=on_result, messages=per_target))
    future = loop.run_soon(_gather(jobs_to_run)) if jobs_to_run else None
    return _InFlight(batch, future, answers, retry)


async def _gather(coros: list[Any]) -> None:
    results = await asyncio.gather(*coros, return_exceptions=True)
    for result in results:
        if isinstance(result, PushAuthError):
            logger.error("push service refused our credentials: %s", result)
        elif isinstance(result, BaseException):
            raise result


def _with(outcome: Outcome, result: SendResult) -> Outcome:
    return Outcome(
        outcome.delivery_id,
        outcome.attempts,
        outcome.device,
        result,
        outcome.ambiguous_before,
        outcome.created_at,
    )


def _drain(answers: queue.SimpleQueue[Outcome]) -> list[Outcome]:
    batch = []
    while True:
        try:
            batch.append(answers.get_nowait())
        except queue.Empty:
            return batch


def _schedule_retry(
    notification: Notification,
    device_ids: list[int],
    retry_after: float,
    attempt: int,
    schedule: tuple[float, ...] | None = None,
) -> None:
    """Retry only the retryable devices, after the larger of Retry-After and the backoff (or the
    backend's own ``retry_schedule`` entry for this attempt)."""
    # With a backend's own schedule, recording already chose the wait (its entry for the attempts the
    # deliveries have recorded, so a retry requeued by the sweep keeps its place; jittered ±10 %) and
    # passed it as ``retry_after``.
    wait = 0.0 if schedule else backoff(attempt)
    delay = max(retry_after, wait)
    Delivery.objects.filter(notification=notification, device_id__in=device_ids, status__in=OPEN).update(
        next_attempt_at=timezone.now() + timedelta(seconds=delay)
    )
    enqueue_chunk(notification.pk, device_ids, attempt + 1, countdown=delay)


def maybe_finish(notification_id: int) -> None:
    """Mark done once planned and every targeted delivery has a final outcome.

    Judged by the counters, which move in the same transaction as the delivery rows: a chunk that
    has not started yet has no rows, so "no open rows" alone would finish too early.
    """
    n = Notification.objects.filter(pk=notification_id).first()
    if n is None or n.planned_at is None or n.status != NotificationStatus.SENDING:
        return
    if n.sent + n.failed + n.invalid + n.skipped + n.unknown < n.targeted:
        return
    # FAILED only when nothing can have arrived: an UNKNOWN delivery may have been delivered.
    status = (
        NotificationStatus.FAILED
        if (n.targeted and not n.sent and not n.unknown and n.failed)
        else NotificationStatus.DONE
    )
    Notification.objects.filter(pk=notification_id, status=NotificationStatus.SENDING).update(
        status=status, finished_at=timezone.now()
    )
