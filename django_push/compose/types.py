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
from datetime import timedelta
from typing import Any

from django.utils.translation import gettext_lazy as _

from django_push.conf import push_settings
from django_push.exceptions import PushConfigurationError
from django_push.message import PRIORITIES

PUSH = "push"
IN_APP = "in_app"
EMAIL = "email"
SMS = "sms"
WEBHOOK = "webhook"
#: Every channel a type may name; ``push`` and ``in_app`` are the default.
CHANNELS: tuple[str, ...] = (PUSH, IN_APP, EMAIL, SMS, WEBHOOK)
DEFAULT_CHANNELS: tuple[str, ...] = (PUSH, IN_APP)
#: Channels whose work is Delivery rows (``in_app`` is the inbox).
DELIVERY_CHANNELS: tuple[str, ...] = (PUSH, EMAIL, SMS, WEBHOOK)
#: What cancels a step: the push was delivered (a SENT delivery), opened (the app or service worker
#: reported an open or a click: Delivery.opened_at), or the inbox item was read.
CONDITIONS: tuple[str, ...] = ("delivered", "opened", "read")
SETTING = "NOTIFICATION_TYPES"
DELIVERY_POLICIES = ("at_least_once", "at_most_once")
RATE_PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


@dataclass(frozen=True)
class Escalate:
    """Send on ``to`` too, ``after`` the notification, to each recipient for whom ``unless`` is not
    met by then (``delivered``: no push of it reached one of their devices; ``read``: its inbox item
    is unread)."""

    to: str
    after: timedelta
    unless: str = "delivered"


@dataclass(frozen=True)
class Digest:
    """Collect the type's items per user; ``after`` the first one, send one ``channel`` message
    listing those still unread (``unless="read"``) or all of them (``unless=""``)."""

    channel: str
    after: timedelta
    unless: str = "read"


def escalate(to: str, after: timedelta | float, unless: str = "delivered") -> Escalate:
    """``escalate(to="email", after=timedelta(minutes=5), unless="delivered")``."""
    return Escalate(to, _duration(after), unless)


def digest(channel: str, after: timedelta | float, unless: str = "read") -> Digest:
    """``digest(channel="email", after=timedelta(hours=24), unless="read")``."""
    return Digest(channel, _duration(after), unless)


def _duration(value: timedelta | float) -> timedelta:
    return value if isinstance(value, timedelta) else timedelta(seconds=float(value))


@dataclass(frozen=True)
class NotificationType:
    name: str
    label: Any = ""
    priority: str = "normal"
    channels: tuple[str, ...] = DEFAULT_CHANNELS
    ttl: int | None = None
    collapse_key: str = ""
    required: bool = False
    rate_limit: str | None = None  # "N/second|minute|hour|day", per user
    description: Any = ""
    #: A push lost with its connection: "at_least_once" (resend it collapse-keyed: the device shows
    #: one) or "at_most_once" (record it unknown, never resend: e.g. one-time codes).
    delivery_policy: str = "at_least_once"
    #: Follow-ups on other channels: :func:`escalate` and :func:`digest` rules.
    rules: tuple[Escalate | Digest, ...] = ()

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
        rules = (self.rules,) if isinstance(self.rules, Escalate | Digest) else tuple(self.rules)
        object.__setattr__(self, "rules", rules)
        for i, rule in enumerate(rules):
            _check_rule(rule, channels, f'{where}["rules"][{i}]')

    @property
    def escalations(self) -> tuple[Escalate, ...]:
        return tuple(r for r in self.rules if isinstance(r, Escalate))

    @property
    def digests(self) -> tuple[Digest, ...]:
        return tuple(r for r in self.rules if isinstance(r, Digest))

    @property
    def delivery_channels(self) -> list[str]:
        """The channels sent at once as deliveries (``in_app`` excluded: it is the inbox)."""
        return [c for c in self.channels if c in DELIVERY_CHANNELS]

    @property
    def rate(self) -> tuple[int, int] | None:
        """``(count, period in seconds)`` of the rate limit, or None."""
        return parse_rate(self.rate_limit) if self.rate_limit else None

    def sends(self, channel: str) -> bool:
        return channel in self.channels


def _check_rule(rule: Any, channels: tuple[str, ...], where: str) -> None:
    example = 'escalate(to="email", after=timedelta(minutes=5), unless="delivered")'
    if not isinstance(rule, Escalate | Digest):
        raise PushConfigurationError(f"{where} is {rule!r}; use e.g. {example} or digest(...).")
    channel = rule.to if isinstance(rule, Escalate) else rule.channel
    allowed = DELIVERY_CHANNELS if isinstance(rule, Escalate) else (EMAIL,)
    if channel not in allowed:
        raise PushConfigurationError(f"{where} sends to {channel!r}; use one of {', '.join(allowed)}.")
    if rule.after < timedelta(0):
        raise PushConfigurationError(f"{where}: after must not be negative.")
    conditions = CONDITIONS if isinstance(rule, Escalate) else ("read", "")
    if rule.unless not in conditions:
        raise PushConfigurationError(
            f"{where}: unless={rule.unless!r}; use one of {', '.join(map(repr, conditions))}."
        )
    if (rule.unless == "read" or isinstance(rule, Digest)) and IN_APP not in channels:
        raise PushConfigurationError(
            f"{where} reads the inbox (unless='read' or a digest): add 'in_app' to the type's channels."
        )
    if isinstance(rule, Escalate) and rule.unless == "delivered" and PUSH not in channels:
        raise PushConfigurationError(f"{where}: unless='delivered' follows a push: add 'push' to channels.")


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
