"""Writes a batch of answers to Delivery rows, Notification counters and device health.

Set-based: one UPDATE per distinct outcome (plus one for provider message ids), one F() update of
the counters, and lifecycle's set-based device updates — never a save() per row. This is the
database half of the hot path, so it is written for speed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from django.db import connection, transaction
from django.db.models import F, Field

from django_push.conf import push_settings
from django_push.devices import lifecycle, webhooks
from django_push.dispatch.backoff import scheduled_retry
from django_push.exceptions import PushConfigurationError
from django_push.handler import backends
from django_push.models import Delivery, DeliveryPolicy, Device, Notification
from django_push.models.sql import AnyOf, any_of_sql
from django_push.results import DeliveryStatus, SendResult
from django_push.signals import post_send

FAILED_STATUSES = (DeliveryStatus.REJECTED, DeliveryStatus.FAILED)


@dataclass(slots=True)
class Outcome:
    delivery_id: int
    attempts: int  # attempts before this one
    device: Device
    result: SendResult
    #: An earlier attempt of this delivery may have been delivered (its connection was lost).
    ambiguous_before: bool = False
    created_at: datetime | None = None  # when the delivery was planned: the retry budget starts there


def record(notification: Notification, outcomes: Sequence[Outcome], now: datetime) -> list[tuple[int, float]]:
    """Record ``outcomes``; returns (device id, Retry-After seconds or 0) for those left open to retry.

    A retryable answer is retried until the time budget (``RETRY_BUDGET`` seconds since the delivery
    was planned, and ``MAX_ATTEMPTS`` when set) runs out; then the delivery is FAILED, or UNKNOWN when
    an attempt may have been delivered: a probably-delivered push is never recorded failed. Under the
    at-most-once policy an ambiguous loss is recorded UNKNOWN at once and never resent. A request the
    service provably never processed costs no attempt.
    """
    if not outcomes:
        return []
    groups: dict[tuple, list[int]] = defaultdict(list)
    message_ids: dict[int, str] = {}
    counts = {"sent": 0, "failed": 0, "invalid": 0, "unknown": 0}
    retry: list[tuple[int, float]] = []
    final_results: list[tuple[Device, SendResult]] = []
    at_most_once = notification.delivery_policy == DeliveryPolicy.AT_MOST_ONCE
    for o in outcomes:
        r = o.result
        status, code, reason, ambiguous = r.status, r.error_code, r.reason, False
        attempts = o.attempts + (1 if r.counts_attempt else 0)
        if r.retryable:
            maybe_delivered = r.ambiguous or o.ambiguous_before
            scheduled = scheduled_retry(o.device.platform, o.device.application, attempts)
            if r.ambiguous and at_most_once:
                status = DeliveryStatus.UNKNOWN
                reason = f"lost with its connection (at-most-once: not resent): {reason}".strip()
            elif (scheduled is None and _out_of_budget(o, attempts, now)) or (scheduled or 0.0) < 0:
                status = DeliveryStatus.UNKNOWN if maybe_delivered else DeliveryStatus.FAILED
                reason = f"gave up after {attempts} attempts: {r.status.value} {reason}".strip()
            else:
                retry.append((o.device.pk, max(r.retry_after or 0.0, scheduled or 0.0)))
                ambiguous = r.ambiguous
        if status == DeliveryStatus.SENT:
            counts["sent"] += 1
            if r.message_id:
                message_ids[o.delivery_id] = r.message_id[:255]
        elif status == DeliveryStatus.INVALID_TOKEN:
            counts["invalid"] += 1
        elif status in FAILED_STATUSES:
            counts["failed"] += 1
        elif status == DeliveryStatus.UNKNOWN:
            counts["unknown"] += 1
        groups[(status.value, code[:64], reason[:500], ambiguous, r.counts_attempt)].append(o.delivery_id)
        final_results.append((o.device, r))

    with transaction.atomic():
        for (status, code, reason, ambiguous, counted), ids in groups.items():
            fields = {
                "status": status,
                "error_code": code,
                "reason": reason,
                "attempts": F("attempts") + (1 if counted else 0),
                "claim": "",
                "in_flight_since": None,
                "updated_at": now,
            }
            if status == DeliveryStatus.SENT:
                fields["sent_at"] = now
            if ambiguous:
                fields["ambiguous_retry"] = True
            with_ids = [(pk, message_ids[pk]) for pk in ids if pk in message_ids] if message_ids else []
            if with_ids:
                # The provider's message id in the same UPDATE: one new row version per delivery,
                # not two (the second UPDATE was a fifth of the chunk's database time).
                _update_with_message_ids(with_ids, fields, 1 if counted else 0)
                if len(with_ids) == len(ids):
                    continue
                ids = [pk for pk in ids if pk not in message_ids]
            Delivery.objects.filter(AnyOf("pk", ids)).update(**fields)
        Notification.objects.filter(pk=notification.pk).update(
            progress_at=now, **{k: F(k) + v for k, v in counts.items() if v}
        )
        lifecycle.apply(final_results, now)
        lifecycle.retire_ended_activities(notification, final_results, now)
        webhooks.apply(final_results, now)
    if post_send.has_listeners(Notification):
        post_send.send(sender=Notification, notification=notification, outcomes=final_results)
    return retry


def _out_of_budget(outcome: Outcome, attempts: int, now: datetime) -> bool:
    schedule = retry_schedule(outcome.device)
    if schedule is not None:  # the backend's own schedule: one retry per entry, then give up
        return attempts > len(schedule)
    cap = push_settings.MAX_ATTEMPTS
    if cap is not None and attempts >= cap:
        return True
    started = outcome.created_at
    return started is not None and (now - started).total_seconds() >= float(push_settings.RETRY_BUDGET)


def retry_schedule(device: Device) -> tuple[float, ...] | None:
    """The ``retry_schedule`` of the backend class serving ``device`` (None: backoff + budget)."""
    try:
        return backends[device.platform, device.application].retry_schedule
    except PushConfigurationError:
        return None


def record_unknown(
    notification: Notification, delivery_ids: Sequence[int], reason: str, now: datetime
) -> None:
    """Close deliveries that may have been delivered and must not be resent (at-most-once)."""
    if not delivery_ids:
        return
    with transaction.atomic():
        n = Delivery.objects.filter(pk__in=delivery_ids).update(
            status=DeliveryStatus.UNKNOWN,
            reason=reason[:500],
            claim="",
            in_flight_since=None,
            ambiguous_retry=True,
            updated_at=now,
        )
        Notification.objects.filter(pk=notification.pk).update(unknown=F("unknown") + n, progress_at=now)


def _update_with_message_ids(pairs: list[tuple[int, str]], fields: dict[str, Any], counted: int) -> None:
    """Write ``fields`` and each row's provider message id in one UPDATE … FROM (VALUES …) per 400
    rows (SQLite ≥ 3.33, PostgreSQL); other databases get an UPDATE per row. ``fields`` are those
    :func:`record` builds: plain values, except ``attempts`` (an F() increment by ``counted``)."""
    if connection.vendor not in ("postgresql", "sqlite"):  # pragma: no cover - other databases
        for did, mid in pairs:
            Delivery.objects.filter(pk=did).update(**fields, message_id=mid)
        return
    table = _qn(Delivery._meta.db_table)
    assignments = [f"{_qn('attempts')} = {_qn('attempts')} + %s"]
    fixed: list[Any] = [counted]
    for name, value in fields.items():
        if name == "attempts":
            continue
        field = cast(Field, Delivery._meta.get_field(name))
        assignments.append(f"{_qn(field.column or name)} = %s")
        fixed.append(field.get_db_prep_save(value, connection))
    assignments.append(f"{_qn('message_id')} = v.mid")
    for start in range(0, len(pairs), 400):  # stay under SQLite's bound-parameter limit
        batch = pairs[start : start + 400]
        params = [*fixed, *(x for pair in batch for x in pair)]
        if connection.vendor == "postgresql":
            values = ", ".join(["(%s::bigint, %s)"] * len(batch))
            sql = (
                f"UPDATE {table} SET {', '.join(assignments)} "
                f"FROM (VALUES {values}) AS v(did, mid) WHERE {table}.{_qn('id')} = v.did"
            )
        else:
            values = ", ".join(["(%s, %s)"] * len(batch))
            sql = (
                f"WITH v(did, mid) AS (VALUES {values}) UPDATE {table} SET {', '.join(assignments)} "
                f"FROM v WHERE {table}.{_qn('id')} = v.did"
            )
            params = [*params[len(fixed) :], *fixed]  # the CTE's parameters come first
        with connection.cursor() as cursor:
            cursor.execute(sql, params)


def _qn(name: str) -> str:
    return connection.ops.quote_name(name)


def create_deliveries(notification_id: int, device_ids: Sequence[int], now: datetime) -> None:
    """One PENDING delivery per device, skipping those that exist: a single INSERT … SELECT.

    Building model instances for ``bulk_create`` was the largest CPU cost of a chunk; this keeps the
    work in the database and stays idempotent (the unique constraint + ON CONFLICT DO NOTHING).
    """
    if not device_ids:
        return
    if connection.vendor not in ("postgresql", "sqlite"):  # pragma: no cover - other databases
        Delivery.objects.bulk_create(
            [
                Delivery(
                    notification_id=notification_id,
                    device_id=pk,
                    platform=platform,
                    created_at=now,
                    updated_at=now,
                )
                for pk, platform in Device.objects.filter(pk__in=device_ids).values_list("pk", "platform")
            ],
            ignore_conflicts=True,
        )
        return
    qn = connection.ops.quote_name
    delivery, device = Delivery._meta.db_table, Device._meta.db_table
    columns = (
        "notification_id",
        "device_id",
        "platform",
        "status",
        "attempts",
        "message_id",
        "error_code",
        "reason",
        "ambiguous_retry",
        "claim",
        "created_at",
        "updated_at",
    )
    members, ids = any_of_sql(f"d.{_qn('id')}", [int(pk) for pk in device_ids], connection.vendor)
    sql = (
        f"INSERT INTO {_qn(delivery)} ({', '.join(map(qn, columns))}) "
        f"SELECT %s, d.{_qn('id')}, d.{_qn('platform')}, %s, 0, '', '', '', %s, '', %s, %s "
        f"FROM {_qn(device)} d WHERE {members} "
        f"ON CONFLICT ({_qn('notification_id')}, {_qn('device_id')}) DO NOTHING"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [notification_id, DeliveryStatus.PENDING.value, False, now, now, *ids])


def skip(notification: Notification, delivery_ids: Sequence[int], reason: str, now: datetime) -> None:
    if not delivery_ids:
        return
    with transaction.atomic():
        n = Delivery.objects.filter(pk__in=delivery_ids).update(
            status=DeliveryStatus.SKIPPED, reason=reason[:500], claim="", in_flight_since=None, updated_at=now
        )
        Notification.objects.filter(pk=notification.pk).update(skipped=F("skipped") + n, progress_at=now)
