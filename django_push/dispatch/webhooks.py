"""Dispatch's webhook glue: the signing secrets and the envelope of each webhook delivery.

Kept here, where targets are built, because backends never touch the database: the endpoint's valid
secrets go into ``Target.secrets``, and the notification's type and creation time into
``message.overrides["webhook"]``, so the body (and so its signature's content) is the same on every
attempt. Endpoints that did not subscribe to the notification's type are skipped by
:func:`event_type_filter`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from django.utils import timezone

from django_push.dispatch.filters import Decision, Skip
from django_push.message import PushMessage, Target
from django_push.models import Device, Notification, Platform, WebhookEndpoint

DEFAULT_EVENT_TYPE = "notification"


def webhook_targets(
    notification: Notification, message: PushMessage, devices: Sequence[Device]
) -> tuple[PushMessage, list[Target]]:
    """The message and targets for a group of webhook devices (in order), secrets filled in."""
    now = timezone.now()
    endpoints = {
        e.device_id: e for e in WebhookEndpoint.objects.filter(device_id__in=[d.pk for d in devices])
    }
    targets = []
    for device in devices:
        endpoint = endpoints.get(device.pk)
        secrets = endpoint.signing_secrets(now) if endpoint is not None else ()
        targets.append(dataclasses.replace(device.to_target(), secrets=secrets))
    envelope = {
        "type": notification.notification_type or DEFAULT_EVENT_TYPE,
        "timestamp": notification.created_at.isoformat(),
        **message.overrides.get("webhook", {}),
    }
    return dataclasses.replace(message, overrides={**message.overrides, "webhook": envelope}), targets


def event_type_filter(notification: Notification, devices: Sequence[Device]) -> dict[int, Decision]:
    """Skip webhook endpoints whose event types do not include the notification's type."""
    hook_ids = [d.pk for d in devices if d.platform == Platform.WEBHOOK]
    if not hook_ids:
        return {}
    event_type = notification.notification_type or DEFAULT_EVENT_TYPE
    return {
        e.device_id: Skip(f"webhook endpoint not subscribed to {event_type!r}")
        for e in WebhookEndpoint.objects.filter(device_id__in=hook_ids).only("device_id", "event_types")
        if not e.wants(event_type)
    }
