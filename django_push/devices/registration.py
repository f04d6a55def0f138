"""Device registration: the one upsert every way of registering uses, and Web Push's moves.

Registration is idempotent by (platform, application, address): the same token posted twice is one row.
The address is what identifies a device, so whoever posts it owns it ("the phone changed hands"), with
one exception: a Web Push endpoint is only taken over by a client that also knows the subscription's
auth secret. An endpoint is a URL that pages, scripts and proxies handle; without that proof, anyone who
saw one could re-key the subscription so that the real browser could no longer decrypt its messages.
The same rule holds wherever an endpoint changes hands: registering, and moving a subscription on
``pushsubscriptionchange`` (:func:`resubscribe`).

The API, the admin, management commands and a site's own views all call these functions; they take
values already validated (see :mod:`django_push.api.validators`).
"""

from __future__ import annotations

import contextlib
import hmac
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from django_push.backends.webpush_endpoints import validate_endpoint
from django_push.conf import push_settings
from django_push.devices.lifecycle import deactivate, reactivate
from django_push.exceptions import InvalidTarget
from django_push.models import Device, DeviceKind, Platform, Subscription, address_hash

MAX_UPSERT_ATTEMPTS = 3
# Fields that describe the previous owner's phone, not the token: cleared when the token changes hands.
PERSONAL_FIELDS = ("name", "locale", "time_zone", "user_agent")


class EndpointKeysMismatch(Exception):
    """A Web Push endpoint is registered to someone else with another auth secret."""


def register(
    *, platform: str, application: str, address: str, owner: Any, values: dict[str, Any]
) -> tuple[Device, bool]:
    """Create or refresh the device at (platform, application, address); return ``(device, created)``.

    Safe under concurrency: a lost race on the unique constraint (an INSERT blocked by a concurrent
    one, then refused) rolls back to a savepoint and retries as an update, so N identical concurrent
    registrations make one row and exactly one ``created``. Re-registering re-activates the device.
    """
    now = timezone.now()
    owner = owner if owner is not None and owner.is_authenticated else None
    for _ in range(MAX_UPSERT_ATTEMPTS):
        with transaction.atomic():
            device = Device.objects.select_for_update().by_address(platform, application, address).first()
            if device is None:
                try:
                    with transaction.atomic():
                        device = Device.objects.create(
                            platform=platform,
                            application=application,
                            address=address,
                            owner=owner,
                            created_at=now,
                            registered_at=now,
                            last_seen_at=now,
                            **values,
                        )
                except IntegrityError:
                    continue  # a concurrent request created it first: update that row instead
                retire_replaced_activity_tokens(device, now)
                return device, True
            _refresh(device, owner, values, now)
            retire_replaced_activity_tokens(device, now)
            return device, False
    raise IntegrityError(f"could not register a {platform} device after {MAX_UPSERT_ATTEMPTS} attempts")


def retire_replaced_activity_tokens(device: Device, now: datetime) -> int:
    """A new ActivityKit token replaces the one it supersedes, so a push never goes to both.

    iOS gives an app install one push-to-start token per activity type (a new one replaces it), and a
    running activity one update token at a time (``pushTokenUpdates`` rotates it). So: a push-to-start
    token retires the other push-to-start tokens of its installation and type; an update token the
    other update tokens of its activity. Returns how many were retired."""
    if device.kind == DeviceKind.LIVEACTIVITY_START and device.installation_id is not None:
        others = Device.objects.filter(
            kind=DeviceKind.LIVEACTIVITY_START,
            installation_id=device.installation_id,
            activity_type=device.activity_type,
        )
    elif device.kind == DeviceKind.LIVEACTIVITY_UPDATE and device.activity_id:
        others = Device.objects.filter(
            kind=DeviceKind.LIVEACTIVITY_UPDATE,
            application=device.application,
            activity_id=device.activity_id,
        )
    else:
        return 0
    return deactivate(others.exclude(pk=device.pk), "replaced by a newer Live Activity token", now)


def _refresh(device: Device, owner: Any, values: dict[str, Any], now: datetime) -> None:
    owner_id = owner.pk if owner is not None else None
    same_owner = owner_id is not None and device.owner_id == owner_id
    if (
        device.platform == Platform.WEBPUSH
        and not same_owner
        and not same_secret(device.auth, str(values.get("auth", "")))
    ):
        raise EndpointKeysMismatch
    if device.owner_id != owner_id:
        device.owner = owner
        for field in PERSONAL_FIELDS:
            setattr(device, field, "")
        Subscription.objects.filter(device=device).delete()
    for field, value in values.items():
        setattr(device, field, value)
    reactivate(device, now)
    device.save()


def resubscribe(
    *, old_endpoint: str, old_auth: str, new_endpoint: str, new_keys: dict[str, str]
) -> Device | None:
    """Move the device(s) of the old subscription to the new one, keeping owner and topics.

    The old subscription's endpoint and auth secret are the credential (the browser's service worker
    sends them on ``pushsubscriptionchange``, with no login). Returns None when no device matches them.
    When the new endpoint is already registered (the page re-subscribed first), the two rows merge only
    if that row holds the same auth secret as the new keys — proof that it is this browser's own
    subscription; otherwise :class:`EndpointKeysMismatch` is raised and neither row changes.
    """
    moved: Device | None = None
    for _ in range(MAX_UPSERT_ATTEMPTS):
        try:
            with transaction.atomic():
                for device in webpush_devices(old_endpoint, lock=True):
                    if same_secret(device.auth, old_auth):
                        moved = _move(device, new_endpoint, new_keys)
            return moved
        except IntegrityError:
            continue  # the new endpoint was registered concurrently: run again, it now merges
    raise IntegrityError("could not move the Web Push subscription")


def unsubscribe(*, endpoint: str, auth: str, user: Any) -> int:
    """Delete the Web Push devices at ``endpoint`` that the caller may remove: the signed-in owner's,
    or any whose auth secret the caller proved. Returns how many went."""
    user_id = user.pk if user is not None and user.is_authenticated else None
    doomed = [
        device.pk
        for device in webpush_devices(endpoint)
        if (user_id is not None and device.owner_id == user_id) or same_secret(device.auth, auth)
    ]
    return Device.objects.filter(pk__in=doomed).delete()[0] if doomed else 0


def webpush_devices(endpoint: str, lock: bool = False) -> list[Device]:
    """Web Push devices (any application) at ``endpoint``, looked up by its normalized spelling."""
    # An endpoint no longer allowed (the allow-list changed) is still ours to find and remove.
    with contextlib.suppress(InvalidTarget):
        endpoint = validate_endpoint(endpoint, push_settings.WEBPUSH_ALLOWED_HOSTS)
    queryset = Device.objects.filter(platform=Platform.WEBPUSH, address_hash=address_hash(endpoint))
    return list(queryset.select_for_update() if lock else queryset)


def same_secret(stored: str, offered: str) -> bool:
    return bool(stored and offered) and hmac.compare_digest(stored.encode(), offered.encode())


def _move(device: Device, endpoint: str, keys: dict[str, str]) -> Device:
    now = timezone.now()
    target = (
        Device.objects.select_for_update()
        .by_address(Platform.WEBPUSH, device.application, endpoint)
        .exclude(pk=device.pk)
        .first()
    )
    if target is not None:
        # The new endpoint already has a row. Merge only into this browser's own subscription: the
        # row must hold the auth secret the browser just sent. Anything else would let a caller
        # silence another user's subscription and re-key it to their own browser.
        if not same_secret(target.auth, keys["auth"]):
            raise EndpointKeysMismatch
        device.delete()
    else:
        target = device
        target.address = endpoint
    target.p256dh, target.auth = keys["p256dh"], keys["auth"]
    reactivate(target, now)
    target.save()
    return target
