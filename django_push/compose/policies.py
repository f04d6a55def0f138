"""Preferences, quiet hours and rate limits, as ``DJANGO_PUSH["DELIVERY_FILTERS"]``::

    DJANGO_PUSH = {
        "DELIVERY_FILTERS": [
            "django_push.compose.policies.preferences",   # opted out → skipped, with the reason
            "django_push.compose.policies.quiet_hours",   # inside the window → held until it ends
            "django_push.compose.policies.rate_limits",   # over the type's limit → skipped
        ],
    }

(:data:`DEFAULT_FILTERS` lists them in that order.) Dispatch runs them for every chunk of every
notification, whoever sent it (rules, ``dispatch.notify``, admin broadcasts), and records each skip
with its reason on the Delivery. Each filter costs at most one query per chunk; a notification without
a ``notification_type`` passes the preference and rate-limit filters untouched.

Order matters: the first decision for a device wins, so a held push is counted against the rate limit
when it is released, not when it was held.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.cache import BaseCache, caches
from django.utils import timezone

from django_push.compose import types as notification_types
from django_push.conf import PUSH_PLATFORMS
from django_push.dispatch.filters import Decision, Hold, Skip
from django_push.models.preferences import PREFERENCE_CHANNELS, NotificationPreference, QuietHours, zone

if TYPE_CHECKING:
    from django_push.models import Device, Notification

DEFAULT_FILTERS = [
    "django_push.compose.policies.preferences",
    "django_push.compose.policies.quiet_hours",
    "django_push.compose.policies.rate_limits",
]
CACHE_SETTING = "RATE_LIMIT_CACHE"
KEY_PREFIX = "django_push:rate"


#: Quiet hours hold these channels; e-mail and webhooks are read when the user chooses to.
QUIET_CHANNELS = (notification_types.PUSH, notification_types.SMS)


def channel_of(platform: str) -> str:
    """The preference channel of a Device platform: apns/fcm/webpush → ``push``; else itself."""
    return notification_types.PUSH if platform in PUSH_PLATFORMS else platform


def preferences(notification: Notification, devices: Sequence[Device]) -> dict[int, Decision]:
    """Skip the addresses of users who turned the type off on that address's channel (push, e-mail,
    SMS, webhook); never for required types. One query per chunk."""
    kind = notification_types.lookup(notification.notification_type)
    if kind is None or kind.required:
        return {}
    owners = {d.owner_id for d in devices if d.owner_id is not None}
    if not owners:
        return {}
    channels = sorted({channel_of(d.platform) for d in devices} & set(PREFERENCE_CHANNELS))
    rows = NotificationPreference.objects.filter(user_id__in=owners, notification_type=kind.name)
    off: set[tuple[int, str]] = set()
    for user_id, *values in rows.values_list("user_id", *channels):
        off.update((user_id, channel) for channel, on in zip(channels, values, strict=True) if not on)
    if not off:
        return {}
    skips = {c: Skip(f"user opted out of {kind.name} {c}") for c in channels}
    return {
        d.pk: skips[channel_of(d.platform)] for d in devices if (d.owner_id, channel_of(d.platform)) in off
    }


def quiet_hours(notification: Notification, devices: Sequence[Device]) -> dict[int, Decision]:
    """Hold non-critical pushes and text messages to users inside their quiet hours until the window
    ends (e-mail and webhooks are not held: nothing buzzes).

    The window is in the preference's time zone, else the device's ``time_zone``, else the site's.
    """
    if notification.priority == "critical":
        return {}
    if notification.push_type == "liveactivity" and not (notification.title or notification.body):
        return {}  # a Live Activity content update without an alert interrupts nobody: never held
    devices = [d for d in devices if channel_of(d.platform) in QUIET_CHANNELS]
    owners = {d.owner_id for d in devices if d.owner_id is not None}
    if not owners:
        return {}
    windows = {q.user_id: q for q in QuietHours.objects.filter(user_id__in=owners, enabled=True)}
    if not windows:
        return {}
    now = timezone.now()
    site_zone = zone(settings.TIME_ZONE) or timezone.get_default_timezone()
    decisions: dict[int, Decision] = {}
    for device in devices:
        window = windows.get(device.owner_id)  # type: ignore[arg-type]
        if window is None:
            continue
        tz = zone(window.time_zone) or zone(device.time_zone) or site_zone
        until = window.window_end(now, tz)
        if until is not None:
            decisions[device.pk] = Hold(until, f"quiet hours until {until:%H:%M} {tz}")
    return decisions


def rate_limits(notification: Notification, devices: Sequence[Device]) -> dict[int, Decision]:
    """Skip users who already received the type's limit in the current window ("5/hour").

    Counted per user (a device without owner counts as its own user), once per notification however
    many devices and chunks it has, in Django's cache with ``add`` + ``incr`` (atomic on Redis and
    Memcached). Windows are fixed (aligned to the period), so a burst can straddle two windows.
    """
    kind = notification_types.lookup(notification.notification_type)
    if kind is None or kind.rate is None:
        return {}
    limit, period = kind.rate
    cache = caches[_cache_alias()]
    window = int(timezone.now().timestamp()) // period
    by_user: dict[str, list[int]] = {}
    for d in devices:
        by_user.setdefault(f"u{d.owner_id}" if d.owner_id is not None else f"d{d.pk}", []).append(d.pk)
    skip = Skip(f"rate limited: {kind.name}, {kind.rate_limit}")
    decisions: dict[int, Decision] = {}
    for user, device_ids in by_user.items():
        key = f"{KEY_PREFIX}:{kind.name}:{user}"
        if _over_limit(cache, key, notification.pk, window, limit, period):
            decisions.update(dict.fromkeys(device_ids, skip))
    return decisions


def _over_limit(
    cache: BaseCache, key: str, notification_id: int, window: int, limit: int, period: int
) -> bool:
    """Count this notification for the user once, and remember the verdict for it: retries, held
    releases and the user's devices in other chunks neither count again nor change the answer."""
    verdict_key = f"{key}:n{notification_id}"
    if not cache.add(verdict_key, -1, timeout=period * 2):
        return cache.get(verdict_key) == 1  # decided already (-1: being decided right now → send)
    counter = f"{key}:w{window}"
    cache.add(counter, 0, timeout=period + 60)
    try:
        count = cache.incr(counter)
    except ValueError:  # expired between add and incr
        cache.add(counter, 1, timeout=period + 60)
        count = 1
    over = count > limit
    cache.set(verdict_key, int(over), timeout=period * 2)
    return over


def _cache_alias() -> str:
    from django_push.conf import push_settings

    return str(push_settings.user_settings.get(CACHE_SETTING, "default"))
