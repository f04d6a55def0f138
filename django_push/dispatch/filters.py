"""Per-device decisions taken just before sending: skip a device, or hold it until later.

Filters are listed in ``DJANGO_PUSH["DELIVERY_FILTERS"]`` as dotted paths of callables
``(notification, devices) -> {device_id: Skip | Hold}``. Preferences, quiet hours and rate limits
plug in here, so every send path (broadcasts, events, the admin) honours them. A skipped delivery
is recorded with its reason (nothing silently lost); a held one is sent when ``until`` comes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from django_push.conf import push_settings

if TYPE_CHECKING:
    from django_push.models import Device, Notification


@dataclass(frozen=True)
class Skip:
    reason: str


@dataclass(frozen=True)
class Hold:
    until: datetime
    reason: str


Decision = Skip | Hold
DeliveryFilter = Callable[["Notification", Sequence["Device"]], dict[int, Decision]]


def decide(notification: Notification, devices: Sequence[Device]) -> dict[int, Decision]:
    """Run every configured filter; the first decision for a device wins."""
    decisions: dict[int, Decision] = {}
    for func in push_settings.imported("DELIVERY_FILTERS"):
        remaining = [d for d in devices if d.pk not in decisions]
        if not remaining:
            break
        for device_id, decision in func(notification, remaining).items():
            decisions.setdefault(device_id, decision)
    return decisions
