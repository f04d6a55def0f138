"""Notification types: what kind of news a notification is, and how it is sent by default.

A type names a priority (critical/high/normal/low, which ``django_push.backends.priorities`` maps to each
service), the channels it uses (``push``, ``in_app``), a TTL, a collapse key, an optional per-user
rate limit (``"5/hour"``), and whether it is *required* (users cannot turn it off).

Sites add, change or remove types with ``DJANGO_PUSH["NOTIFICATION_TYPES"]``::

    DJANGO_PUSH = {
        "NOTIFICATION_TYPES": {
            "like": {"rate_limit": "20/hour"},            # change a built-in type
            "order_shipped": {"priority": "high", "label": "Order shipped"},   # add one
            "weekly_digest": None,                        # remove a built-in type
        },
    }

This module is a leaf (settings and messages only): :func:`django_push.compose.send.send` sends a typed
notification through its channels.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _

from django_push.conf import push_settings
from django_push.exceptions import PushConfigurationError
from django_push.message import PRIORITIES

PUSH = "push"
IN_APP = "in_app"
CHANNELS: tuple[str, ...] = (PUSH, IN_APP)
SETTING = "NOTIFICATION_TYPES"
DELIVERY_POLICIES = ("at_least_once", "at_most_once")
RATE_PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


@dataclass(frozen=True)
class NotificationType:
    name: str
    label: Any = ""
    priority: str = "normal"
    channels: tuple[str, ...] = CHANNELS
    ttl: int | None = None
    collapse_key: str = ""
    required: bool = False
    rate_limit: str | None = None  # "N/second|minute|hour|day", per user
    description: Any = ""
    #: A push lost with its connection: "at_least_once" (resend it collapse-keyed: the device shows
    #: one) or "at_most_once" (record it unknown, never resend: e.g. one-time codes).
    delivery_policy: str = "at_least_once"

    def __post_init__(self) -> None:
        where = f'DJANGO_PUSH["{SETTING}"]["{self.name}"]'
        if self.priority not in PRIORITIES:
            raise PushConfigurationError(
                f'{where}["priority"] is {self.priority!r}; use one of {", ".join(PRIORITIES)}.'
            )
        channels = (self.channels,) if isinstance(self.channels, str) else tuple(self.channels)
        if not channels or set(channels) - set(CHANNELS):
            raise PushConfigurationError(
                f'{where}["channels"] is {self.channels!r}; use a non-empty list of {", ".join(CHANNELS)}.'
            )
        object.__setattr__(self, "channels", channels)
        if self.delivery_policy not in DELIVERY_POLICIES:
            raise PushConfigurationError(
                f'{where}["delivery_policy"] is {self.delivery_policy!r}; '
                f"use one of {', '.join(DELIVERY_POLICIES)}."
            )
        if self.ttl is not None and (not isinstance(self.ttl, int) or self.ttl < 0):
            raise PushConfigurationError(f'{where}["ttl"] must be seconds (an int >= 0) or None.')
        if self.rate_limit is not None:
            parse_rate(self.rate_limit, where=f'{where}["rate_limit"]')

    @property
    def rate(self) -> tuple[int, int] | None:
        """``(count, period in seconds)`` of the rate limit, or None."""
        return parse_rate(self.rate_limit) if self.rate_limit else None

    def sends(self, channel: str) -> bool:
        return channel in self.channels


def parse_rate(rate: str, *, where: str = "rate_limit") -> tuple[int, int]:
    """``"5/hour"`` → ``(5, 3600)``; ``"100/day"``, ``"1/min"`` and ``"10/s"`` work too."""
    count, _, period = str(rate).partition("/")
    seconds = next((s for p, s in RATE_PERIODS.items() if period and p.startswith(period)), None)
    if not count.isdigit() or int(count) < 1 or seconds is None:
        raise PushConfigurationError(f"{where} is {rate!r}; expected e.g. '5/hour', '100/day' or None.")
    return int(count), seconds


BUILTIN: dict[str, NotificationType] = {
    t.name: t
    for t in (
        NotificationType(
            "security_alert",
            _("Security alerts"),
            priority="critical",
            required=True,
            description=_("Sign-ins, password and e-mail changes. Always on."),
        ),
        NotificationType("direct_message", _("Direct messages"), priority="high", ttl=7 * 86400),
        NotificationType("comment", _("Comments"), priority="normal"),
        NotificationType(
            "like", _("Likes"), priority="normal", collapse_key="like", rate_limit="5/hour", ttl=86400
        ),
        NotificationType("announcement", _("Announcements"), priority="normal"),
        NotificationType(
            "weekly_digest", _("Weekly digest"), priority="low", collapse_key="weekly_digest", ttl=3 * 86400
        ),
    )
}
FIELDS = {f.name for f in dataclasses.fields(NotificationType)} - {"name"}


def all_types() -> dict[str, NotificationType]:
    """Every type: the built-in ones with ``DJANGO_PUSH["NOTIFICATION_TYPES"]`` applied (read live)."""
    configured = push_settings.NOTIFICATION_TYPES or {}
    if not isinstance(configured, Mapping):
        raise PushConfigurationError(f'DJANGO_PUSH["{SETTING}"] must be a dict of type name -> options.')
    types = dict(BUILTIN)
    for name, options in configured.items():
        if options is None:
            types.pop(name, None)
            continue
        if isinstance(options, NotificationType):
            types[name] = dataclasses.replace(options, name=name)
            continue
        if not isinstance(options, Mapping):
            raise PushConfigurationError(f'DJANGO_PUSH["{SETTING}"]["{name}"] must be a dict or None.')
        unknown = set(options) - FIELDS
        if unknown:
            raise PushConfigurationError(
                f'DJANGO_PUSH["{SETTING}"]["{name}"] has unknown key(s) {", ".join(sorted(unknown))}; '
                f"known: {', '.join(sorted(FIELDS))}."
            )
        base = types.get(name) or NotificationType(name, label=name.replace("_", " ").capitalize())
        types[name] = dataclasses.replace(base, **options)
    return types


def get(name: str) -> NotificationType:
    """The type called ``name``; raises LookupError for an unknown one."""
    try:
        return all_types()[name]
    except KeyError:
        raise LookupError(
            f"Unknown notification type {name!r}; add it to DJANGO_PUSH['{SETTING}']."
        ) from None


def lookup(name: str) -> NotificationType | None:
    """The type called ``name``, or None (no type, or one the site does not declare)."""
    return all_types().get(name) if name else None


def check() -> list[str]:
    """Problems with the setting, as messages (for a system check)."""
    try:
        all_types()
    except PushConfigurationError as exc:
        return [str(exc)]
    return []
