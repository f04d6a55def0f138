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

import base64
import hashlib
import hmac
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.core import signing
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.encoding import force_bytes
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
    """Each device's reference for ``notification`` (by device pk), or nothing when tracking is off.

    Exactly what :func:`sign` makes (and :func:`verify` accepts), at a fifth of its CPU: a chunk
    shares one timestamp and one keyed HMAC, which :func:`sign` would derive again per device (16 µs
    of a push's ~600). The first reference is checked against ``django.core.signing``; should a
    Django version sign differently, every reference is made by :func:`sign` instead."""
    if not push_settings.ENGAGEMENT_TRACKING or not devices:
        return {}
    notification_hex = notification.public_id.hex
    one = _batch_signer()
    first = devices[0]
    reference = one(notification_hex, first.public_id.hex)
    try:
        genuine = signing.loads(reference, salt=SALT) == [notification_hex, first.public_id.hex]
    except signing.BadSignature:
        genuine = False
    if not genuine:  # pragma: no cover - a Django whose signing format differs
        return {d.pk: sign(notification.public_id, d.public_id) for d in devices}
    return {d.pk: one(notification_hex, d.public_id.hex) for d in devices}


def _batch_signer() -> Callable[[str, str], str]:
    """``signing.dumps([a, b], salt=SALT)`` for many pairs: Django's TimestampSigner format
    (base64 JSON, base62 timestamp, HMAC-SHA256 keyed by sha256(salt + "signer" + SECRET_KEY)),
    with the timestamp and the keyed HMAC made once."""
    signer = signing.TimestampSigner(salt=SALT)
    stamp = signer.timestamp()
    key = hashlib.sha256(force_bytes(signer.salt) + b"signer" + force_bytes(signer.key)).digest()
    keyed = hmac.new(key, digestmod=hashlib.sha256)
    sep = signer.sep

    def one(a: str, b: str) -> str:
        # Hex ids need no JSON escaping: this is json.dumps([a, b], separators=(",", ":")).
        data = base64.urlsafe_b64encode(f'["{a}","{b}"]'.encode()).rstrip(b"=").decode()
        value = f"{data}{sep}{stamp}"
        mac = keyed.copy()
        mac.update(value.encode())
        return f"{value}{sep}{base64.urlsafe_b64encode(mac.digest()).rstrip(b'=').decode()}"

    return one


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
