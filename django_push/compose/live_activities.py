"""Live Activities from Python: ``start``, ``update``, ``end`` and ``broadcast``.

``start``/``update``/``end`` store a Notification and send it through dispatch like every push (the
ledger, retries, 410 → the token is deactivated), to ActivityKit tokens only: push-to-start tokens of
an activity type for a start, the update tokens of running activities for an update or an end. A sent
``end`` retires the activity's update token.

``timestamp`` orders the updates on the device (it drops one older than the last it applied), so it is
fixed once, when the notification is created — the caller's, else the notification's creation time —
and a retried push keeps it: a late retry never overwrites a newer update.

``broadcast`` is one request to a channel (iOS 18), recorded as a Notification of type
``live_activity.broadcast`` with one target; see :mod:`django_push.compose.broadcast_channels`.

Every rule of Apple's (required fields per event, priorities, the 4 KB limit) is checked before
anything is stored: a ValidationError names the field.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext

from django_push import dispatch
from django_push.backends import apns_live
from django_push.exceptions import MessageRejected, PushAuthError
from django_push.handler import backends
from django_push.message import PushMessage
from django_push.models import BroadcastChannel, Device, DeviceKind, Notification, NotificationStatus
from django_push.results import DeliveryStatus, SendResult

__all__ = ["broadcast", "end", "start", "update"]

TYPE_PREFIX = "live_activity."
Moment = datetime | int | float | None


def _epoch(field: str, value: Moment) -> int | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        if timezone.is_naive(value):
            raise ValidationError({field: [gettext("Give an aware datetime (with a time zone).")]})
        return int(value.timestamp())
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValidationError({field: [gettext("Give an aware datetime or seconds since the epoch.")]})
    return int(value)


def _message(
    event: str,
    created: datetime,
    fields: Mapping[str, Any],
    message: Mapping[str, Any],
    broadcast: bool = False,
) -> PushMessage:
    """The PushMessage of one Live Activity send, checked against Apple's rules."""
    spec: dict[str, Any] = {"event": event}
    for name, value in fields.items():
        if name in ("timestamp", "stale_date", "dismissal_date"):
            value = _epoch(name, value)
        if value is not None:
            spec[name] = value
    spec.setdefault("timestamp", int(created.timestamp()))
    try:
        push = PushMessage(push_type="liveactivity", live_activity=spec, **message)
    except (TypeError, ValueError) as exc:
        raise ValidationError(str(exc)) from exc
    try:
        spec = apns_live.normalize(spec, has_alert=apns_live.has_alert(push), broadcast=broadcast)
        apns_live.encode(
            dataclasses.replace(push, live_activity=spec), lambda: created.timestamp(), broadcast=broadcast
        )
    except apns_live.LiveActivityError as exc:
        raise ValidationError({exc.field: [exc.detail]}) from exc
    except MessageRejected as exc:
        raise ValidationError({"content_state": [str(exc)]}) from exc
    return dataclasses.replace(push, live_activity=spec)


def _send(
    event: str,
    audience: dict[str, Any],
    push: PushMessage,
    created: datetime,
    created_by: Any,
    send_now: bool,
) -> Notification:
    notification = dispatch.create(
        audience={**audience, "platforms": ["apns"]},
        message=push,
        created_by=created_by,
        notification_type=TYPE_PREFIX + event,
        created_at=created,
    )
    if send_now:
        dispatch.plan(notification.pk, inline=True)
        notification.refresh_from_db()
    else:
        dispatch.queue_notification(notification)  # on transaction commit
    return notification


def _ids(devices: Iterable[Device | int] | None) -> list[int]:
    return [d if isinstance(d, int) else d.pk for d in devices or ()]


def start(
    *,
    attributes_type: str,
    attributes: Mapping[str, Any],
    content_state: Mapping[str, Any],
    title: str,
    body: str = "",
    users: Sequence[Any] | None = None,
    devices: Iterable[Device | int] | None = None,
    timestamp: Moment = None,
    stale_date: Moment = None,
    relevance_score: float | None = None,
    channel: BroadcastChannel | None = None,
    apns_priority: int | None = None,
    created_by: Any = None,
    send_now: bool = False,
    **message: Any,
) -> Notification:
    """Start an activity of ``attributes_type`` on the push-to-start tokens of ``users`` (or the
    given token ``devices``). The system shows the alert (``title``/``body``); ``channel`` subscribes
    the new activity to a broadcast channel. The app reports the new activity's update token."""
    if users is None and devices is None:
        raise ValidationError(
            {"users": [gettext("Name the users (or token devices) to start the activity for.")]}
        )
    created = timezone.now()
    fields = {
        "timestamp": timestamp,
        "content_state": dict(content_state),
        "stale_date": stale_date,
        "relevance_score": relevance_score,
        "attributes_type": attributes_type,
        "attributes": dict(attributes),
        "input_push_channel": channel.channel_id if channel is not None else None,
        "apns_priority": apns_priority,
    }
    push = _message("start", created, fields, {"title": title, "body": body, **message})
    audience: dict[str, Any] = {
        "kinds": [DeviceKind.LIVEACTIVITY_START],
        "filter": {"activity_type": attributes_type},
    }
    if users is not None:
        audience["users"] = [u if isinstance(u, int) else u.pk for u in users]
    if devices is not None:
        audience["devices"] = _ids(devices)
    return _send("start", audience, push, created, created_by, send_now)


def _activity_audience(
    activity_ids: Sequence[str] | None, devices: Iterable[Device | int] | None
) -> dict[str, Any]:
    if (activity_ids is None) == (devices is None):
        raise ValidationError(
            {
                "activity_ids": [
                    gettext(
                        "Name the activities by their ids, or give their update token devices (one of them)."
                    )
                ]
            }
        )
    if activity_ids is not None:
        ids = [str(a) for a in activity_ids]
        return {"all": True, "kinds": [DeviceKind.LIVEACTIVITY_UPDATE], "filter": {"activity_id__in": ids}}
    return {"devices": _ids(devices), "kinds": [DeviceKind.LIVEACTIVITY_UPDATE]}


def update(
    *,
    content_state: Mapping[str, Any],
    activity_ids: Sequence[str] | None = None,
    devices: Iterable[Device | int] | None = None,
    timestamp: Moment = None,
    stale_date: Moment = None,
    relevance_score: float | None = None,
    apns_priority: int | None = None,
    title: str = "",
    body: str = "",
    created_by: Any = None,
    send_now: bool = False,
    **message: Any,
) -> Notification:
    """Update running activities (by their ids, or their update token devices) with ``content_state``.

    Priority 5 unless ``apns_priority=10`` or ``priority="high"``: iOS budgets priority-10 updates.
    A ``title``/``body`` adds an alert (the activity expands to show it)."""
    created = timezone.now()
    fields = {
        "timestamp": timestamp,
        "content_state": dict(content_state),
        "stale_date": stale_date,
        "relevance_score": relevance_score,
        "apns_priority": apns_priority,
    }
    push = _message("update", created, fields, {"title": title, "body": body, **message})
    return _send("update", _activity_audience(activity_ids, devices), push, created, created_by, send_now)


def end(
    *,
    activity_ids: Sequence[str] | None = None,
    devices: Iterable[Device | int] | None = None,
    content_state: Mapping[str, Any] | None = None,
    dismissal_date: Moment = None,
    timestamp: Moment = None,
    apns_priority: int | None = None,
    title: str = "",
    body: str = "",
    created_by: Any = None,
    send_now: bool = False,
    **message: Any,
) -> Notification:
    """End running activities; they stay on the Lock Screen until ``dismissal_date`` (iOS decides
    when none is given; a past date removes them at once). Each update token reached is retired."""
    created = timezone.now()
    fields = {
        "timestamp": timestamp,
        "content_state": dict(content_state) if content_state is not None else None,
        "dismissal_date": dismissal_date,
        "apns_priority": apns_priority,
    }
    push = _message("end", created, fields, {"title": title, "body": body, **message})
    return _send("end", _activity_audience(activity_ids, devices), push, created, created_by, send_now)


#: A throttled or unavailable broadcast is retried in the call this many times at most, waiting the
#: larger of Retry-After and the backoff, at most BROADCAST_MAX_WAIT seconds each time. A resend is
#: harmless: it carries the same timestamp, so the device applies the update once.
BROADCAST_ATTEMPTS = 3
BROADCAST_MAX_WAIT = 10.0


def _broadcast_with_retries(push: PushMessage, channel: BroadcastChannel) -> SendResult:
    backend: Any = backends["apns", channel.application]  # APNs, or console/locmem/dummy
    attempt = 0
    while True:
        attempt += 1
        try:
            result: SendResult = backend.broadcast(push, channel.channel_id, channel.environment)
        except PushAuthError as exc:
            return SendResult(DeliveryStatus.FAILED, error_code=exc.reason or "auth", reason=str(exc)[:500])
        if not result.retryable or attempt >= BROADCAST_ATTEMPTS:
            return result
        time.sleep(min(BROADCAST_MAX_WAIT, max(result.retry_after or 0.0, dispatch.backoff(attempt))))


def broadcast(
    channel: BroadcastChannel,
    content_state: Mapping[str, Any] | None = None,
    *,
    event: str = "update",
    timestamp: Moment = None,
    stale_date: Moment = None,
    dismissal_date: Moment = None,
    relevance_score: float | None = None,
    apns_priority: int | None = None,
    title: str = "",
    body: str = "",
    created_by: Any = None,
    **message: Any,
) -> Notification:
    """Update (or end) every activity subscribed to ``channel``: one request, sent now.

    A throttled or unavailable answer is retried here (BROADCAST_ATTEMPTS). Recorded as a
    Notification with one target (sent or failed, with APNs' reason); per-device
    outcomes are not known to the sender of a broadcast. Raises ValidationError for a payload Apple
    would refuse or an inactive channel."""
    if not channel.active:
        raise ValidationError({"channel": [gettext("This channel was deleted; create a new one.")]})
    created = timezone.now()
    fields = {
        "timestamp": timestamp,
        "content_state": dict(content_state) if content_state is not None else None,
        "stale_date": stale_date,
        "dismissal_date": dismissal_date,
        "relevance_score": relevance_score,
        "apns_priority": apns_priority,
    }
    push = _message(event, created, fields, {"title": title, "body": body, **message}, broadcast=True)
    notification = dispatch.create(
        audience={},
        message=push,
        created_by=created_by,
        notification_type=TYPE_PREFIX + "broadcast",
        created_at=created,
    )
    options = {**notification.options, "broadcast_channel": channel.channel_id}
    Notification.objects.filter(pk=notification.pk).update(
        # planned_at: there is no audience to plan, so send_due's planner leaves it alone.
        status=NotificationStatus.SENDING,
        started_at=created,
        planned_at=created,
        targeted=1,
        options=options,
    )
    result = _broadcast_with_retries(push, channel)
    now = timezone.now()
    sent = result.status == DeliveryStatus.SENT
    options["broadcast_result"] = {
        "status": result.status.value,
        "message_id": result.message_id,
        "error_code": result.error_code,
        "reason": result.reason,
    }
    Notification.objects.filter(pk=notification.pk).update(
        options=options,
        status=NotificationStatus.DONE if sent else NotificationStatus.FAILED,
        sent=F("sent") + (1 if sent else 0),
        failed=F("failed") + (0 if sent else 1),
        finished_at=now,
        progress_at=now,
    )
    if sent:
        BroadcastChannel.objects.filter(pk=channel.pk).update(last_broadcast_at=now)
    notification.refresh_from_db()
    notification.broadcast_result = result  # type: ignore[attr-defined]
    return notification
