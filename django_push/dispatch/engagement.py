"""Engagement: did anyone see it? Signed delivery references out, reports of display, open and click in.

Every push carries, in its data under :data:`REFERENCE_KEY`, a reference to its delivery signed with
the site's SECRET_KEY (``django.core.signing``, salted for this use only) and timestamped. The app or
the service worker posts it back with the event; the reference names exactly one delivery, the pair
(notification public id, device public id) — unique like the Delivery row — so a report cannot be
forged, nor replayed against another delivery, and needs no login. It is accepted for
``DJANGO_PUSH["ENGAGEMENT_MAX_AGE"]`` seconds.

Recording is idempotent and set-based: each timestamp is set once (``UPDATE … WHERE opened_at IS
NULL``), and the notification's counter moves by the number of rows that update changed, in the same
transaction, so concurrent or repeated reports count once. The events are ordered — a click implies an
open, an open implies a display — so a click reported alone still fills the funnel.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.core import signing
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from django_push.conf import push_settings
from django_push.models import Delivery, Device, Notification

#: The key of the signed reference in every push's data (APNs payload, FCM data, Web Push ``data``).
REFERENCE_KEY = "dp_ref"
SALT = "django_push.engagement"
#: Reportable events, in funnel order; each implies the ones before it.
EVENTS = ("displayed", "opened", "clicked")
FIELDS = {
    "displayed": ("displayed_at", "displayed"),
    "opened": ("opened_at", "opened"),
    "clicked": ("clicked_at", "clicked"),
}


class EngagementRefused(Exception):
    """A report that cannot be recorded; ``status`` is the HTTP answer (400, 403 or 404)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Report:
    """What a report changed: the events newly recorded (empty when it repeated an earlier one)."""

    delivery_id: int
    recorded: tuple[str, ...]


def sign(notification_public_id: uuid.UUID, device_public_id: uuid.UUID) -> str:
    """The reference of one delivery: compact (two hex ids, a timestamp, a signature; ~110 bytes)."""
    return signing.dumps([notification_public_id.hex, device_public_id.hex], salt=SALT, compress=False)


def references(notification: Notification, devices: Sequence[Device]) -> dict[int, str]:
    """Each device's reference for ``notification`` (by device pk), or nothing when tracking is off."""
    if not push_settings.ENGAGEMENT_TRACKING:
        return {}
    return {d.pk: sign(notification.public_id, d.public_id) for d in devices}


def verify(reference: str) -> tuple[uuid.UUID, uuid.UUID]:
    """(notification public id, device public id) of a genuine, unexpired reference."""
    try:
        value = signing.loads(reference, salt=SALT, max_age=push_settings.ENGAGEMENT_MAX_AGE)
    except signing.SignatureExpired as exc:
        raise EngagementRefused(str(_("This delivery reference has expired.")), 403) from exc
    except signing.BadSignature as exc:
        raise EngagementRefused(
            str(_("This delivery reference is not genuine: its signature does not match.")), 403
        ) from exc
    try:
        notification_id, device_id = value
        return uuid.UUID(hex=notification_id), uuid.UUID(hex=device_id)
    except (TypeError, ValueError) as exc:  # signed by us, so only a changed format lands here
        raise EngagementRefused(str(_("This delivery reference is not one this site issues.")), 403) from exc


def record(reference: str, event: str, now: datetime | None = None) -> Report:
    """Record ``event`` (and the events it implies) for the delivery ``reference`` names."""
    if event not in EVENTS:
        raise EngagementRefused(
            str(_("Unknown event %(event)r: expected one of %(events)s."))
            % {"event": event, "events": ", ".join(EVENTS)},
            400,
        )
    notification_public_id, device_public_id = verify(reference)
    row = (
        Delivery.objects.filter(
            notification__public_id=notification_public_id, device__public_id=device_public_id
        )
        .values_list("pk", "notification_id")
        .first()
    )
    if row is None:
        raise EngagementRefused(str(_("No such delivery (it may have been deleted).")), 404)
    delivery_id, notification_id = row
    now = now or timezone.now()
    recorded: list[str] = []
    with transaction.atomic():
        for name in EVENTS[: EVENTS.index(event) + 1]:
            field, counter = FIELDS[name]
            changed = Delivery.objects.filter(pk=delivery_id, **{f"{field}__isnull": True}).update(
                **{field: now}
            )
            if changed:
                Notification.objects.filter(pk=notification_id).update(**{counter: F(counter) + changed})
                recorded.append(name)
    return Report(delivery_id, tuple(recorded))
