"""Escalations and digests: scheduled steps in the ledger, fired exactly once by ``send_due``.

:func:`schedule_escalation` and :func:`schedule_digests` store the steps (in the caller's transaction,
next to the notification they follow); :func:`run_due` claims due steps with an atomic UPDATE, checks
each one's ``unless`` condition per user, and either cancels it (the condition is met for everyone)
or stores the follow-up notification and marks the step fired *in one transaction*. So a worker that
dies after its claim changes nothing: the claim goes stale after ``IN_FLIGHT_TIMEOUT`` and the next
sweep fires the step; a worker that dies after the commit leaves a fired step and a QUEUED
notification, which ``send_due`` plans like any other.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from django_push.conf import PUSH_PLATFORMS, push_settings
from django_push.dispatch.planning import create, queue_notification
from django_push.models import (
    Delivery,
    InboxItem,
    Notification,
    ScheduledStep,
    StepKind,
    StepStatus,
)
from django_push.results import DeliveryStatus

#: Where a digest's follow-up notification keeps its step (the e-mail renderer lists its items).
DIGEST_OPTION = "digest"
ESCALATION_OPTION = "escalated_from"


def schedule_escalation(
    notification: Notification, channel: str, after: timedelta, unless: str
) -> ScheduledStep | None:
    """One escalation step for ``notification`` (idempotent per channel)."""
    try:
        with transaction.atomic():
            return ScheduledStep.objects.create(
                kind=StepKind.ESCALATION,
                notification=notification,
                notification_type=notification.notification_type,
                channel=channel,
                unless=unless,
                due_at=timezone.now() + after,
            )
    except IntegrityError:
        return None  # scheduled already


def schedule_digests(
    user_ids: Iterable[int],
    notification_type: str,
    channel: str,
    after: timedelta,
    unless: str,
    since: datetime | None = None,
) -> int:
    """Open a pending digest for each user who has none for (type, channel): one INSERT, conflicts
    ignored, so the open digest keeps the due time of the user's first item. ``since``: when the
    first item was stored (the digest collects items from then on). Returns rows created."""
    now = since or timezone.now()
    ids = list(dict.fromkeys(user_ids))
    have = set(
        ScheduledStep.objects.filter(
            kind=StepKind.DIGEST,
            status=StepStatus.PENDING,
            notification_type=notification_type,
            channel=channel,
            user_id__in=ids,
        ).values_list("user_id", flat=True)
    )
    rows = [
        ScheduledStep(
            kind=StepKind.DIGEST,
            user_id=pk,
            notification_type=notification_type,
            channel=channel,
            unless=unless,
            due_at=now + after,
            created_at=now,
        )
        for pk in ids
        if pk not in have
    ]
    return len(ScheduledStep.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500))


def run_due(now: datetime | None = None, limit: int = 500) -> int:
    """Fire or cancel due steps (claimed first: each runs once); returns how many fired."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=push_settings.IN_FLIGHT_TIMEOUT)
    due = ScheduledStep.objects.filter(
        Q(claim="") | Q(claimed_at__lt=stale), status=StepStatus.PENDING, due_at__lte=now
    )
    fired = 0
    for pk in list(due.values_list("pk", flat=True)[:limit]):
        claim = uuid.uuid4().hex
        taken = ScheduledStep.objects.filter(
            Q(claim="") | Q(claimed_at__lt=stale), pk=pk, status=StepStatus.PENDING
        ).update(claim=claim, claimed_at=now)
        if taken:
            fired += run_step(pk, claim, now)
    return fired


def claim_step(step_id: int, now: datetime | None = None) -> str:
    """Claim one step (what :func:`run_due` does before running it); returns the claim or ""."""
    claim = uuid.uuid4().hex
    taken = ScheduledStep.objects.filter(pk=step_id, status=StepStatus.PENDING, claim="").update(
        claim=claim, claimed_at=now or timezone.now()
    )
    return claim if taken else ""


def run_step(step_id: int, claim: str, now: datetime) -> int:
    """Run a step this process claimed: 1 when it fired, 0 when cancelled or taken over."""
    step = ScheduledStep.objects.filter(pk=step_id, claim=claim, status=StepStatus.PENDING).first()
    if step is None:
        return 0
    runner = _escalation if step.kind == StepKind.ESCALATION else _digest
    fields, reason = runner(step)
    with transaction.atomic():
        result = create(**fields) if fields is not None else None
        done = ScheduledStep.objects.filter(pk=step.pk, claim=claim, status=StepStatus.PENDING).update(
            status=StepStatus.FIRED if result is not None else StepStatus.CANCELLED,
            result=result,
            fired_at=now if result is not None else None,
            reason=reason[:255],
            claim="",
        )
        if not done:  # another sweep took the claim over (ours went stale): it fires, not us
            transaction.set_rollback(True)
            return 0
        if result is not None:
            queue_notification(result)
    return 1 if result is not None else 0


def _escalation(step: ScheduledStep) -> tuple[dict[str, Any] | None, str]:
    parent = step.notification
    if parent is None:
        return None, "its notification was deleted"
    users = [int(u) for u in (parent.audience or {}).get("users", [])]
    met = CONDITIONS[step.unless](parent, users) if step.unless else set()
    remaining = [u for u in users if u not in met]
    if not remaining:
        return None, f"{step.unless or 'nothing'}: condition met for every recipient"
    fields = {
        "audience": {"users": remaining, "channels": [step.channel]},
        "notification_type": parent.notification_type,
        "title": parent.title,
        "body": parent.body,
        "data": dict(parent.data or {}),
        "priority": parent.priority,
        "options": {**(parent.options or {}), ESCALATION_OPTION: parent.pk},
        "created_by_id": parent.created_by_id,
    }
    return fields, f"{len(remaining)} of {len(users)} recipient(s): not {step.unless or 'checked'}"


def _digest(step: ScheduledStep) -> tuple[dict[str, Any] | None, str]:
    items = digest_items(step)
    if not items:
        return None, "every item was read" if step.unless == "read" else "nothing to digest"
    fields = {
        "audience": {"users": [step.user_id], "channels": [step.channel]},
        "notification_type": step.notification_type,
        "title": f"{len(items)} × {step.notification_type}",
        "priority": "low",
        "options": {DIGEST_OPTION: step.pk},
    }
    return fields, f"{len(items)} item(s)"


def digest_items(step: ScheduledStep) -> list[InboxItem]:
    """The inbox items a digest step covers: its user's items of its type since the step opened,
    up to when it was claimed; only unread ones when ``unless="read"``."""
    if step.user_id is None:
        return []
    items = InboxItem.objects.filter(
        user_id=step.user_id, notification_type=step.notification_type, created_at__gte=step.created_at
    )
    if step.claimed_at is not None:
        items = items.filter(created_at__lte=step.claimed_at)
    if step.unless == "read":
        items = items.filter(read_at__isnull=True)
    return list(items.order_by("created_at", "pk")[:100])


def _delivered(notification: Notification, users: list[int]) -> set[int]:
    """Users with a push of ``notification`` SENT to one of their devices."""
    return set(
        Delivery.objects.filter(
            notification=notification,
            status=DeliveryStatus.SENT,
            platform__in=PUSH_PLATFORMS,
            device__owner_id__in=users,
        ).values_list("device__owner_id", flat=True)
    )


def _opened(notification: Notification, users: list[int]) -> set[int]:
    """Users who opened (or clicked) ``notification`` on one of their devices: the app or the
    service worker reported it with the delivery's signed reference (docs/engagement.md)."""
    return set(
        Delivery.objects.filter(
            notification=notification, opened_at__isnull=False, device__owner_id__in=users
        ).values_list("device__owner_id", flat=True)
    )


def _read(notification: Notification, users: list[int]) -> set[int]:
    """Users who read ``notification``'s inbox item."""
    return set(
        InboxItem.objects.filter(
            notification=notification, user_id__in=users, read_at__isnull=False
        ).values_list("user_id", flat=True)
    )


#: ``unless`` conditions: (notification, user ids) -> the users for whom it is met.
CONDITIONS: dict[str, Callable[[Notification, list[int]], set[int]]] = {
    "delivered": _delivered,
    "opened": _opened,
    "read": _read,
}
