"""Storing a notification and planning it: audience → keyset chunks → one job per chunk."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from django_push.conf import push_settings
from django_push.devices import channels as channel_addresses
from django_push.dispatch import audience as audience_mod
from django_push.dispatch import fcm_topic_send, jobs, recording
from django_push.dispatch.chunks import enqueue_chunk, maybe_finish, process_chunks
from django_push.message import PushMessage
from django_push.models import MESSAGE_OPTION_FIELDS, Device, FCMDelivery, Notification, NotificationStatus
from django_push.signals import pre_send

#: The Celery task that runs :func:`plan` on a worker (see django_push.tasks).
PLAN_TASK = "django_push.start_notification"


def enqueue_plan(notification_id: int) -> None:
    jobs.enqueue(PLAN_TASK, plan, notification_id)


def create(
    *,
    audience: dict[str, Any],
    message: PushMessage | None = None,
    created_by: Any = None,
    scheduled_at: datetime | None = None,
    notification_type: str = "",
    **fields: Any,
) -> Notification:
    """Store a notification (validated audience) without sending it. ``fcm_delivery="fcm_topic"``
    sends a topic audience's FCM devices as one FCM topic send (dispatch/fcm_topic_send.py)."""
    audience_mod.validate(audience)
    if fields.get("fcm_delivery", FCMDelivery.PER_DEVICE) == FCMDelivery.FCM_TOPIC:
        fcm_topic_send.validate(audience)
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
        transaction.on_commit(lambda: enqueue_plan(pk))
    # SCHEDULED ones are started by send_due() when their time comes (beat, or `sendduepush`).


def send_message(
    message: PushMessage,
    devices: Iterable[Device],
    *,
    created_by: Any = None,
    notification_type: str = "",
    delivery_policy: str = "at_least_once",
) -> Notification:
    """Send ``message`` to ``devices`` now, synchronously, with the same record as any broadcast.

    ``delivery_policy``: "at_least_once" (a push lost with its connection is resent, collapse-keyed)
    or "at_most_once" (it is recorded UNKNOWN and never resent)."""
    ids = [d.pk for d in devices]
    notification = create(
        audience={"devices": ids},
        message=message,
        created_by=created_by,
        notification_type=notification_type,
        delivery_policy=delivery_policy,
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


#: What a duplicate copies: the message and its audience, never outcomes, times or counters.
DUPLICATED_FIELDS = (
    "title",
    "body",
    "data",
    "overrides",
    "options",
    "priority",
    "ttl",
    "collapse_key",
    "push_type",
    "notification_type",
    "delivery_policy",
    "audience",
)


def duplicate(notification: Notification, created_by: Any = None) -> Notification:
    """A DRAFT copy of ``notification``'s message and audience, to edit and send again (never sent
    by itself: the composer, prefilled from it, sends a new notification)."""
    return Notification.objects.create(
        status=NotificationStatus.DRAFT,
        created_by=created_by,
        **{name: getattr(notification, name) for name in DUPLICATED_FIELDS},
    )


def plan(notification_id: int, inline: bool = False) -> None:
    """Start a due notification: pre_send, then one job per keyset chunk of its audience.

    Idempotent: a planner that died part-way is run again by send_due (the notification is SENDING
    with no ``planned_at``); deliveries are unique and claimed, so chunks planned twice send once.
    """
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
    total = unreachable = _sync_channel_addresses(notification)
    if unreachable and started:  # a re-run of a planner that died counted them already
        Notification.objects.filter(pk=notification.pk).update(skipped=F("skipped") + unreachable)
    fcm_topic_send.send(notification)  # one FCM topic send, when staff chose it
    per_device = fcm_topic_send.per_device_audience(notification)

    def planned_chunks() -> Iterator[list[int]]:
        nonlocal total
        if per_device is None:  # everything went as the FCM topic send
            return
        for ids in audience_mod.id_chunks(per_device, push_settings.CHUNK_SIZE):
            total += len(ids)
            # The ledger: the chunk's deliveries exist (PENDING) before its job does, so send_due finds
            # planned work whatever the broker does with the message (a worker killed with it
            # prefetched, a job lost with its process).
            recording.create_deliveries(notification.pk, ids, timezone.now())
            yield ids

    if inline or not jobs.use_celery():
        # In this process (send_message, or no Celery): pipelined, so the database work of the next
        # chunk overlaps the sends of the current one. With Celery, CHUNKS_PER_TASK chunks per task.
        process_chunks(notification.pk, planned_chunks())
    else:
        # CHUNKS_PER_TASK chunks per task: the worker runs them pipelined (process_chunk splits them),
        # as the inline planner does. Each chunk's deliveries exist before its task is queued.
        group: list[int] = []
        for ids in planned_chunks():
            group += ids
            if len(group) >= push_settings.CHUNK_SIZE * push_settings.CHUNKS_PER_TASK:
                enqueue_chunk(notification.pk, group)
                group = []
        if group:
            enqueue_chunk(notification.pk, group)
    Notification.objects.filter(pk=notification.pk).update(targeted=total, planned_at=timezone.now())
    maybe_finish(notification.pk)
    if per_device is None:
        fcm_topic_send.settle(notification)


def _sync_channel_addresses(notification: Notification) -> int:
    """Create or update the e-mail/SMS addresses of the audience's users before it is resolved;
    returns how many users have none (counted as targeted and skipped, so the totals add up).

    The users are those the audience names, the owners of devices subscribed to its topics, and with
    ``all`` every active user: a marketing e-mail to everyone reaches users who never registered a
    device. Synced in keyset batches, so memory stays flat for any number of users."""
    audience = notification.audience or {}
    platforms = sorted(set(audience_mod.platforms_for(audience)) & set(channel_addresses.RESOLVED))
    if not platforms:
        return 0
    unreachable = 0
    for users in _audience_users(audience):
        unreachable += sum(len(channel_addresses.sync(platform, users)) for platform in platforms)
    return unreachable


def _audience_users(audience: dict[str, Any], batch: int = 1000) -> Iterator[list[int]]:
    """The ids of the users an audience reaches through its selectors, in ascending batches."""
    User = get_user_model()
    named = sorted({int(pk) for pk in audience.get("users") or []})
    if not audience.get("all") and not audience.get("topics"):
        for start in range(0, len(named), batch):
            yield named[start : start + batch]
        return
    selector = Q(pk__in=named)
    if audience.get("all"):
        active = Q(is_active=True) if any(f.name == "is_active" for f in User._meta.get_fields()) else Q()
        selector |= active
    if audience.get("topics"):
        subscribed = Device.objects.active().filter(
            subscriptions__topic__name__in=audience["topics"], owner__isnull=False
        )
        selector |= Q(pk__in=subscribed.values("owner_id"))
    users = User._default_manager.filter(selector).order_by("pk")
    last = None
    while True:
        page = users if last is None else users.filter(pk__gt=last)
        ids = list(page.values_list("pk", flat=True)[:batch])
        if not ids:
            return
        yield ids
        last = ids[-1]


def _fields_from_message(message: PushMessage) -> dict[str, Any]:
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
