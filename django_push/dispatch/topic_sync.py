"""Keep FCM's own topics in sync with local Subscriptions of FCM devices (``FCM_TOPIC_SYNC``).

A Subscription created or deleted records its change in the ledger (:class:`FCMTopicChange`) in the
same transaction (:func:`record`, from the receivers), and the sync runs on commit as a job (Celery's
``django_push.sync_fcm_topics``, or inline): :func:`sync_pending` sends the due changes to Instance ID,
grouped by (application, topic, action), 1,000 tokens a call, through the FCM backend (its OAuth
token and connections), and applies the answers:

* applied: the row is deleted (only if no newer change overwrote it meanwhile);
* NOT_FOUND: the token is dead, the device is deactivated through the lifecycle, the row deleted;
* INVALID_ARGUMENT (and other refusals): the row stays FAILED with the reason;
* 429/5xx/transport failures: retried with the sends' backoff (``RETRY_BACKOFF_*``), ``Retry-After``
  honoured, at most :data:`MAX_SYNC_ATTEMPTS` times, then FAILED.

:func:`repair` is the sweep for drift (changes made while the option was off, ``bulk_create``, raw
SQL, a device deactivated for another reason): it records "add" for every subscription of an active
FCM device and "remove" for those of inactive ones, then syncs. ``manage.py syncfcmtopics`` and the
periodic task ``django_push.repair_fcm_topics`` run it.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TypeVar

from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from django_push.conf import push_settings
from django_push.dispatch import jobs
from django_push.dispatch.backoff import backoff
from django_push.exceptions import PushAuthError, PushConfigurationError
from django_push.handler import backends
from django_push.models import (
    Device,
    FCMTopicChange,
    Platform,
    Subscription,
    TopicSyncAction,
    TopicSyncStatus,
    address_hash,
)
from django_push.results import DeliveryStatus, SendResult
from django_push.transport import loop

logger = logging.getLogger("django_push.dispatch.topic_sync")
SYNC_TASK = "django_push.sync_fcm_topics"
MAX_SYNC_ATTEMPTS = 8
REPAIR_CHUNK = 2000
T = TypeVar("T")
BATCH_ROWS = 10_000  # ledger rows read per pass (each group is then sent 1,000 tokens a call)


def enabled() -> bool:
    return bool(push_settings.FCM_TOPIC_SYNC)


def record(device: Device, topic: str, action: str, *, schedule: bool = True) -> bool:
    """Record that ``device`` joined (``"add"``) or left (``"remove"``) ``topic``, in the caller's
    transaction, and sync on commit. Only FCM devices, only when ``FCM_TOPIC_SYNC`` is on."""
    if not enabled() or device.platform != Platform.FCM:
        return False
    key = {"topic": topic, "application": device.application, "address_hash": address_hash(device.address)}
    fields = {
        "action": action,
        "status": TopicSyncStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": timezone.now(),
        "error_code": "",
        "reason": "",
    }
    if not FCMTopicChange.objects.filter(**key).update(**fields, version=F("version") + 1):
        try:
            with transaction.atomic():
                FCMTopicChange.objects.create(**key, address=device.address, **fields)
        except IntegrityError:  # recorded concurrently: overwrite it
            FCMTopicChange.objects.filter(**key).update(**fields, version=F("version") + 1)
    if schedule:
        transaction.on_commit(schedule_sync, robust=True)  # a failed sync never fails the caller
    return True


def schedule_sync(countdown: float | None = None) -> None:
    """Run :func:`sync_pending` as a job (on a worker with Celery, else here)."""
    jobs.enqueue(SYNC_TASK, sync_pending, countdown=countdown)


def sync_pending(now: datetime | None = None) -> int:
    """Send every due change to Instance ID and apply the answers; returns how many were applied.
    Reschedules itself for the changes left to retry."""
    if not enabled():
        return 0
    now = now or timezone.now()
    due = list(
        FCMTopicChange.objects.filter(status=TopicSyncStatus.PENDING, next_attempt_at__lte=now).order_by(
            "id"
        )[:BATCH_ROWS]
    )
    groups: dict[tuple[str, str, str], list[FCMTopicChange]] = defaultdict(list)
    for row in due:
        groups[row.application, row.topic, row.action].append(row)
    applied = 0
    for (application, topic, action), rows in groups.items():
        applied += _apply(rows, _send(application, topic, action, rows), now)
    later = (
        FCMTopicChange.objects.filter(status=TopicSyncStatus.PENDING)
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )
    if later is not None and due:
        schedule_sync(countdown=max(0.0, (later - timezone.now()).total_seconds()))
    return applied


def _send(application: str, topic: str, action: str, rows: list[FCMTopicChange]) -> list[SendResult]:
    tokens = [row.address for row in rows]
    try:
        backend = backends[Platform.FCM.value, application]
    except PushConfigurationError as exc:  # no FCM backend for this application: nothing will fix it
        return [SendResult(DeliveryStatus.REJECTED, error_code="configuration", reason=str(exc)[:500])] * len(
            rows
        )
    try:
        return loop.run(backend.manage_topic(action, topic, tokens))  # type: ignore[attr-defined]
    except PushAuthError as exc:  # the credentials: not the tokens' fault; retried, then FAILED
        logger.error("FCM topic sync for %r refused our credentials: %s", topic, exc)
        result = SendResult(DeliveryStatus.UNAVAILABLE, error_code="auth", reason=str(exc)[:500])
        return [result] * len(rows)


def _apply(rows: list[FCMTopicChange], results: list[SendResult], now: datetime) -> int:
    """Apply one result per row; a row changed since it was read (a newer intent) is left alone."""
    applied = 0
    for row, result in zip(rows, results, strict=True):
        same = FCMTopicChange.objects.filter(pk=row.pk, version=row.version)
        if result.ok:
            applied += same.delete()[0]
        elif result.status == DeliveryStatus.INVALID_TOKEN:
            if same.delete()[0]:
                from django_push.devices.lifecycle import deactivate

                dead = Device.objects.filter(
                    platform=Platform.FCM, application=row.application, address_hash=row.address_hash
                )
                deactivate(dead, f"{result.error_code}: Instance ID says the token is gone", now)
        elif result.retryable and row.attempts + 1 < MAX_SYNC_ATTEMPTS:
            wait = max(result.retry_after or 0.0, backoff(row.attempts + 1))
            same.update(
                attempts=row.attempts + 1,
                next_attempt_at=now + timedelta(seconds=wait),
                error_code=result.error_code[:64],
                reason=result.reason[:500],
            )
        else:
            same.update(
                status=TopicSyncStatus.FAILED,
                attempts=row.attempts + 1,
                error_code=(result.error_code or result.status.value)[:64],
                reason=result.reason[:500],
            )
    return applied


def retry(changes: QuerySet[FCMTopicChange]) -> int:
    """Make ``changes`` due now (failed ones included) and sync on commit; returns how many."""
    count = changes.update(
        status=TopicSyncStatus.PENDING, attempts=0, next_attempt_at=timezone.now(), version=F("version") + 1
    )
    if count:
        transaction.on_commit(schedule_sync, robust=True)
    return count


def repair(*, run: bool = True) -> int:
    """Record the state every FCM subscription should have in FCM (add for active devices, remove for
    inactive ones) and sync it; returns how many changes were recorded. Idempotent.

    Set-based, a chunk of subscriptions at a time: the chunk's existing ledger rows are replaced (a
    worker applying one of them meanwhile finds it gone and leaves the new one alone)."""
    if not enabled():
        return 0
    recorded = 0
    subscriptions = (
        Subscription.objects.filter(device__platform=Platform.FCM)
        .values_list("topic__name", "device__application", "device__address", "device__active")
        .order_by("pk")
    )
    now = timezone.now()
    for chunk in _chunks(subscriptions.iterator(chunk_size=REPAIR_CHUNK), REPAIR_CHUNK):
        rows = [
            FCMTopicChange(
                topic=topic,
                application=application,
                address=address,
                address_hash=address_hash(address),
                action=TopicSyncAction.ADD if active else TopicSyncAction.REMOVE,
                next_attempt_at=now,
            )
            for topic, application, address, active in chunk
        ]
        keys: dict[tuple[str, str], list[str]] = defaultdict(list)
        for row in rows:
            keys[row.topic, row.application].append(row.address_hash)
        with transaction.atomic():
            for (topic, application), hashes in keys.items():
                FCMTopicChange.objects.filter(
                    topic=topic, application=application, address_hash__in=hashes
                ).delete()
            FCMTopicChange.objects.bulk_create(rows, ignore_conflicts=True)
        recorded += len(rows)
    if run:
        sync_pending()  # reschedules itself for what is left
    return recorded


def _chunks(items: Iterable[T], size: int) -> Iterable[list[T]]:
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
