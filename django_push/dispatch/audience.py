"""Who receives a notification: an audience spec → active devices, streamed in keyset chunks.

An audience is JSON (it is stored on the Notification), e.g.::

    {"all": true}
    {"users": [1, 2], "topics": ["news"]}            # union of selectors …
    {"topics": ["news"], "platforms": ["apns"]}      # … narrowed by platforms/applications/filter
    {"devices": [10, 11]}

Selectors (``all``, ``users``, ``devices``, ``topics``) are OR-ed; restrictions (``channels``,
``platforms``, ``applications``, ``locales``, ``filter``: Device field lookups, ``kinds``) are
AND-ed. No selector → nobody. ``channels`` (``push``, ``email``, ``sms``, ``webhook``) says which
kinds of address the selectors reach; without it (and without ``platforms``) they reach push devices
only, so a user's e-mail address is never mailed by an audience that did not ask for it (an explicit
``devices`` list reaches exactly those devices). ``kinds`` defaults to ``["device"]``: only Live
Activity sends (:mod:`django_push.compose.live_activities`) reach ActivityKit tokens.
Chunks are keyset-paginated on the primary key, so memory stays flat for any audience size and a
device registered mid-broadcast is picked up if its id is past the cursor.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.core.exceptions import FieldError, ValidationError
from django.db.models import Q, QuerySet

from django_push.conf import CHANNEL_PLATFORMS as CHANNEL_PLATFORMS_
from django_push.conf import PLATFORMS, PUSH_PLATFORMS
from django_push.models import Device, DeviceKind

SELECTORS = ("all", "users", "devices", "topics")
RESTRICTIONS = ("channels", "platforms", "applications", "locales", "filter", "kinds")
DEFAULT_KINDS = [DeviceKind.DEVICE.value]
PUSH = "push"
#: Channels whose addresses belong to a user (resolved from the user, not registered by a device).
USER_ADDRESS_PLATFORMS: tuple[str, ...] = ("email", "sms")
#: Audience channels → Device platforms (``in_app`` is the inbox, not an address: ignored here).
CHANNEL_PLATFORMS: dict[str, tuple[str, ...]] = {
    PUSH: PUSH_PLATFORMS,
    **{p: (p,) for p in CHANNEL_PLATFORMS_},
    "in_app": (),
}


def validate(audience: dict[str, Any]) -> dict[str, Any]:
    """Check an audience spec; raises ValidationError saying what is wrong."""
    if not isinstance(audience, dict):
        raise ValidationError("The audience must be a JSON object.")
    unknown = set(audience) - set(SELECTORS) - set(RESTRICTIONS)
    if unknown:
        raise ValidationError(f"Unknown audience key(s): {', '.join(sorted(unknown))}.")
    for key in ("users", "devices"):
        if key in audience and not all(isinstance(v, int) for v in audience[key]):
            raise ValidationError(f"audience[{key!r}] must be a list of ids.")
    for key in ("topics", "applications", "locales", "kinds"):
        if key in audience and not all(isinstance(v, str) for v in audience[key]):
            raise ValidationError(f"audience[{key!r}] must be a list of names.")
    bad_kinds = set(audience.get("kinds", ())) - set(DeviceKind.values)
    if bad_kinds:
        known = ", ".join(DeviceKind.values)
        raise ValidationError(
            f"Unknown device kind(s) {', '.join(sorted(map(str, bad_kinds)))}; use {known}."
        )
    bad = set(audience.get("platforms", ())) - set(PLATFORMS)
    if bad:
        raise ValidationError(f"Unknown platform(s) {', '.join(sorted(bad))}; use {', '.join(PLATFORMS)}.")
    bad = set(audience.get("channels", ())) - set(CHANNEL_PLATFORMS)
    if bad or isinstance(audience.get("channels", []), str):
        raise ValidationError(
            f"audience['channels'] must be a list of {', '.join(CHANNEL_PLATFORMS)}; "
            f"unknown: {', '.join(sorted(map(str, bad)))}."
        )
    if "filter" in audience:
        try:
            Device.objects.filter(**audience["filter"]).query  # noqa: B018 - builds the lookups
        except (FieldError, TypeError, ValueError) as exc:
            raise ValidationError(f"audience['filter'] is not a valid device filter: {exc}") from exc
    return audience


def devices_for(audience: dict[str, Any]) -> QuerySet[Device]:
    """The active devices an audience names (unordered; may be large)."""
    selector = Q(pk__in=[])
    if audience.get("all"):
        selector = Q()
    else:
        if audience.get("users"):
            selector |= Q(owner_id__in=audience["users"])
        if audience.get("topics"):
            subscribed = Device.objects.filter(subscriptions__topic__name__in=audience["topics"])
            selector |= Q(pk__in=subscribed.values("pk"))
            # A topic is subscribed through a device; its subscribers' e-mail and SMS addresses are
            # those of the owners of its active subscribed devices.
            selector |= Q(
                platform__in=USER_ADDRESS_PLATFORMS,
                owner_id__in=subscribed.filter(active=True, owner__isnull=False).values("owner_id"),
            )
    selector &= Q(platform__in=platforms_for(audience))
    if audience.get("devices"):
        selector |= Q(pk__in=audience["devices"])
    qs = Device.objects.active().filter(selector, kind__in=audience.get("kinds") or DEFAULT_KINDS)
    if audience.get("platforms"):
        qs = qs.filter(platform__in=audience["platforms"])
    if audience.get("applications"):
        qs = qs.filter(application__in=audience["applications"])
    if audience.get("locales"):
        qs = qs.filter(locale__in=audience["locales"])
    if audience.get("filter"):
        qs = qs.filter(**audience["filter"])
    return qs


def platforms_for(audience: dict[str, Any]) -> list[str]:
    """The Device platforms the audience's selectors reach (its ``channels``; push by default)."""
    if "channels" in audience:
        return [p for c in audience["channels"] for p in CHANNEL_PLATFORMS.get(c, ())]
    return list(audience.get("platforms") or PUSH_PLATFORMS)


def id_chunks(audience: dict[str, Any], size: int) -> Iterator[list[int]]:
    """Device ids in ascending chunks of ``size`` (keyset pagination: WHERE id > last LIMIT size)."""
    qs = devices_for(audience).order_by("pk")
    last = 0
    while True:
        ids = list(qs.filter(pk__gt=last).values_list("pk", flat=True)[:size])
        if not ids:
            return
        yield ids
        last = ids[-1]
        if len(ids) < size:
            return
