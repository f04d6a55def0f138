"""One table: what each django_push priority means to each service.

Kept in one place so "high" means the same urgency on an iPhone, an Android phone and a browser.
``critical`` breaks through Focus/Do Not Disturb on iOS (interruption-level critical needs Apple's
entitlement; without it iOS treats it as time-sensitive).

Background (content-only) pushes are adjusted by the backends, because the services impose rules
there: APNs refuses priority 10 for ``background`` pushes (so they always go at 5), and FCM
deprioritises apps whose HIGH data messages show nothing (so a "normal" background push goes
NORMAL). A visible "normal" notification goes HIGH on Android, which is FCM's own default for
notification messages; NORMAL would let Doze delay it.
"""

from __future__ import annotations

from typing import NamedTuple


class ServicePriority(NamedTuple):
    apns_priority: int  # apns-priority header: 10 now, 5 power-considerate, 1 lowest
    apns_interruption_level: str  # aps.interruption-level
    fcm_android_priority: str  # android.priority: HIGH or NORMAL
    webpush_urgency: str  # Urgency header (RFC 8030): very-low, low, normal, high


PRIORITIES: dict[str, ServicePriority] = {
    "critical": ServicePriority(10, "critical", "HIGH", "high"),
    "high": ServicePriority(10, "time-sensitive", "HIGH", "high"),
    "normal": ServicePriority(10, "active", "HIGH", "normal"),
    "low": ServicePriority(5, "passive", "NORMAL", "low"),
}

#: APNs' own default interruption level; not written into payloads, to save bytes.
DEFAULT_INTERRUPTION_LEVEL = "active"


def for_priority(priority: str) -> ServicePriority:
    """The row for ``priority``; an unknown value falls back to "normal" (PushMessage validates it)."""
    return PRIORITIES.get(priority, PRIORITIES["normal"])


def fcm_android_priority(priority: str, background: bool) -> str:
    """``android.priority``: the table's value, but NORMAL for a background push unless it is urgent."""
    if background and priority not in ("critical", "high"):
        return "NORMAL"
    return for_priority(priority).fcm_android_priority
