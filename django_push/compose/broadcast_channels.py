"""Broadcast channels (iOS 18): create one at APNs for an event, remember it, delete it when the event
is over. Every entry point (the admin's action, a site's code, the example's command) calls these.

APNs allows 10,000 channels per app and environment, and a channel outlives the Live Activities on
it: delete it when its event ends (:func:`delete_channel`), or find the ones APNs forgot with
:func:`refresh_channels`.
"""

from __future__ import annotations

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from django.utils import timezone
from django.utils.translation import gettext

from django_push.exceptions import ChannelError
from django_push.handler import backends
from django_push.models import BroadcastChannel, Environment, MessageStoragePolicy

#: APNs' answer for a channel it does not know: for a delete, the channel is gone either way.
NOT_REGISTERED = "ChannelNotRegistered"


def channel_backend(application: str) -> Any:
    """The APNs backend of ``application`` (console/locmem/dummy answer the same calls locally)."""
    return backends["apns", application]


def bundle_id(backend: Any, application: str) -> str:
    return str(getattr(backend, "options", {}).get("topic") or application)


def create_channel(
    *,
    application: str = "default",
    environment: str = Environment.PRODUCTION,
    storage_policy: int = MessageStoragePolicy.MOST_RECENT_MESSAGE_STORED,
    name: str = "",
    content_object: Model | None = None,
) -> BroadcastChannel:
    """Create a channel at APNs and store it, tied to ``content_object`` (a match, a delivery …).

    Raises ValidationError for a bad environment or storage policy, ChannelError when APNs refuses."""
    if environment not in Environment.values:
        raise ValidationError(
            {"environment": [gettext("Use one of %(values)s.") % {"values": ", ".join(Environment.values)}]}
        )
    if storage_policy not in MessageStoragePolicy.values:
        raise ValidationError(
            {"storage_policy": [gettext("Use 0 (no message stored) or 1 (most recent message stored).")]}
        )
    backend = channel_backend(application)
    channel_id = backend.create_channel(int(storage_policy), environment)
    owner: dict[str, Any] = {}
    if content_object is not None:
        owner = {
            "content_type": ContentType.objects.get_for_model(content_object),
            "object_id": str(content_object.pk),
        }
    return BroadcastChannel.objects.create(
        channel_id=channel_id,
        application=application,
        bundle_id=bundle_id(backend, application),
        environment=environment,
        storage_policy=storage_policy,
        name=name[:255],
        **owner,
    )


def read_channel(channel: BroadcastChannel) -> dict[str, Any]:
    """APNs' view of the channel (its message storage policy and push type)."""
    return dict(channel_backend(channel.application).read_channel(channel.channel_id, channel.environment))


def delete_channel(channel: BroadcastChannel) -> bool:
    """Delete the channel at APNs and mark the row inactive. Returns False when APNs no longer knew
    it (already deleted): the row is marked inactive all the same. Other refusals raise ChannelError."""
    known = True
    try:
        channel_backend(channel.application).delete_channel(channel.channel_id, channel.environment)
    except ChannelError as exc:
        if exc.reason != NOT_REGISTERED:
            raise
        known = False
    channel.active = False
    channel.deleted_at = timezone.now()
    channel.save(update_fields=["active", "deleted_at"])
    return known


def refresh_channels(application: str = "default", environment: str = Environment.PRODUCTION) -> int:
    """Mark inactive the stored channels APNs no longer lists; returns how many. (APNs lists every
    channel of the app; channels created elsewhere are left alone, not imported.)"""
    listed = set(channel_backend(application).list_channels(environment))
    missing = BroadcastChannel.objects.filter(
        application=application, environment=environment, active=True
    ).exclude(channel_id__in=listed)
    return missing.update(active=False, deleted_at=timezone.now())


def channels_for(obj: Model) -> QuerySet[BroadcastChannel]:
    """The active channels of one of the site's objects."""
    return BroadcastChannel.objects.filter(
        content_type=ContentType.objects.get_for_model(obj), object_id=str(obj.pk), active=True
    )
