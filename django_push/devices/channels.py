"""Channel addresses: a user's e-mail address and phone number, kept as the user's Device rows.

E-mail and SMS are deliveries like push, so their addresses are Device rows (platform ``email`` or
``sms``, application ``default``): claims, the unique (notification, device) rule, retries and the
token lifecycle (a bounce or an invalid number deactivates that address) apply unchanged.

They are synced when a notification that uses the channel is planned (:func:`sync`), from
``user.email`` (or ``DJANGO_PUSH["EMAIL_ADDRESS_RESOLVER"]``) and ``DJANGO_PUSH["PHONE_NUMBER_RESOLVER"]``.
A user without a usable address is skipped with a reason, never an error. An address deactivated by
a bounce stays off until the user's address changes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone

from django_push.conf import DEFAULT_APPLICATION, PUSH_PLATFORMS, push_settings
from django_push.devices.lifecycle import deactivate
from django_push.models import Device, Platform, address_hash
from django_push.validation import validate_phone_number

logger = logging.getLogger("django_push.channels")

#: The channels whose addresses come from the user (webhook endpoints are registered, not resolved).
RESOLVED = (Platform.EMAIL.value, Platform.SMS.value)


def addresses(platform: str, user_ids: Iterable[int]) -> tuple[dict[int, str], dict[int, str]]:
    """``({user id: normalized address}, {user id: why skipped})`` for ``platform``."""
    ids = list(dict.fromkeys(user_ids))
    found: dict[int, str] = {}
    skipped: dict[int, str] = {}
    if not ids:
        return found, skipped
    User = get_user_model()
    if platform == Platform.EMAIL:
        resolver = push_settings.imported("EMAIL_ADDRESS_RESOLVER")
        if resolver is None:
            raw = dict(User.objects.filter(pk__in=ids).values_list("pk", User.get_email_field_name()))
        else:
            raw = {u.pk: resolver(u) for u in User.objects.filter(pk__in=ids)}
        check: Callable[[str], str] = _email
    elif platform == Platform.SMS:
        resolver = push_settings.imported("PHONE_NUMBER_RESOLVER")
        if resolver is None:
            return found, dict.fromkeys(ids, 'no DJANGO_PUSH["PHONE_NUMBER_RESOLVER"] is set')
        raw = {u.pk: resolver(u) for u in User.objects.filter(pk__in=ids)}
        check = validate_phone_number
    else:
        raise ValueError(f"{platform!r} addresses are not resolved from users; use one of {RESOLVED}.")
    for pk in ids:
        value = raw.get(pk)
        if not value:
            skipped[pk] = f"no {platform} address"
            continue
        try:
            found[pk] = check(str(value))
        except ValidationError:
            skipped[pk] = f"invalid {platform} address"
    return found, skipped


def _email(value: str) -> str:
    value = value.strip()
    validate_email(value)
    return value


def sync(platform: str, user_ids: Iterable[int]) -> dict[int, str]:
    """Create or update each user's ``platform`` Device row from the resolved address.

    Set-based: one query for the addresses, one for the users' rows, one for addresses held by other
    users, one bulk insert; only a changed address is saved on its own. Returns ``{user id: reason}``
    for the users left without an address (logged at INFO, counted as skipped by dispatch).
    """
    found, skipped = addresses(platform, user_ids)
    if not found:
        _log(platform, skipped)
        return skipped
    rows = {
        d.owner_id: d
        for d in Device.objects.filter(
            platform=platform, application=DEFAULT_APPLICATION, owner_id__in=list(found)
        ).order_by("pk")
    }
    hashes = {pk: address_hash(a) for pk, a in found.items()}
    holders = dict(
        Device.objects.filter(
            platform=platform, application=DEFAULT_APPLICATION, address_hash__in=set(hashes.values())
        ).values_list("address_hash", "owner_id")
    )
    now = timezone.now()
    locales = _push_locales(list(found))
    create: list[Device] = []
    for pk, address in found.items():
        holder = holders.get(hashes[pk], pk)
        if holder not in (pk, None):
            skipped[pk] = f"{platform} address already belongs to another user"
            continue
        row = rows.get(pk)
        locale = locales.get(pk, "")
        if row is None:
            create.append(_new(platform, pk, address, now, locale))
        elif row.address != address:
            _readdress(row, address, now)
        if row is not None and locale and row.locale != locale:
            Device.objects.filter(pk=row.pk).update(locale=locale)
    Device.objects.bulk_create(create, ignore_conflicts=True)
    _log(platform, skipped)
    return skipped


def _push_locales(user_ids: list[int]) -> dict[int, str]:
    """Each user's language as their most recently registered push device reports it: an e-mail
    or text message is written in the language the user's apps use."""
    rows = (
        Device.objects.filter(owner_id__in=user_ids, platform__in=PUSH_PLATFORMS, active=True)
        .exclude(locale="")
        .order_by("registered_at", "pk")
        .values_list("owner_id", "locale")
    )
    return {owner: locale for owner, locale in rows if owner is not None}


def _new(platform: str, owner_id: int, address: str, now: Any, locale: str = "") -> Device:
    return Device(
        locale=locale,
        platform=platform,
        application=DEFAULT_APPLICATION,
        owner_id=owner_id,
        address=address,
        address_hash=address_hash(address),
        name=str(Platform(platform).label),
        registered_at=now,
        created_at=now,
    )


def _readdress(row: Device, address: str, now: Any) -> None:
    """A new address starts fresh: active again, failures forgotten (the old one may have bounced)."""
    row.address = address
    row.active = True
    row.failure_count = 0
    row.deactivated_at = None
    row.deactivation_reason = ""
    row.registered_at = now
    row.save(
        update_fields=[
            "address",
            "active",
            "failure_count",
            "deactivated_at",
            "deactivation_reason",
            "registered_at",
            "updated_at",
        ]
    )


def _log(platform: str, skipped: dict[int, str]) -> None:
    if skipped:
        reasons: dict[str, int] = {}
        for reason in skipped.values():
            reasons[reason] = reasons.get(reason, 0) + 1
        logger.info("%s: %d user(s) skipped: %s", platform, len(skipped), reasons)


def address_failed(platform: str, address: str, reason: str) -> int:
    """Deactivate the ``platform`` address ``address`` of every application (a bounce, a complaint,
    a number the provider says does not exist); returns how many rows changed. Sends
    ``device_deactivated`` like any other deactivation."""
    value = address.strip()
    rows = Device.objects.filter(platform=platform, address_hash=address_hash(value), active=True)
    return deactivate(rows, reason[:255])


#: Anymail tracking events that mean "do not mail this address again".
BOUNCE_EVENTS = ("bounced", "complained", "rejected")


def anymail_tracking(sender: Any = None, event: Any = None, esp_name: str = "", **kwargs: Any) -> int:
    """A receiver for ``anymail.signals.tracking``: a bounce, complaint or rejection turns e-mail off
    for that address. Connect it in your AppConfig.ready()::

        from anymail.signals import tracking
        from django_push.devices.channels import anymail_tracking
        tracking.connect(anymail_tracking, dispatch_uid="django_push.bounces")
    """
    event_type = str(getattr(event, "event_type", "") or "")
    recipient = str(getattr(event, "recipient", "") or "")
    if event_type not in BOUNCE_EVENTS or not recipient:
        return 0
    detail = str(getattr(event, "reject_reason", "") or getattr(event, "description", "") or "")
    reason = f"{esp_name or 'e-mail'} {event_type}" + (f": {detail}" if detail else "")
    return address_failed(Platform.EMAIL.value, recipient, reason)
