"""One table: what each django_push priority means to each service.

``critical`` breaks through Focus/Do Not Disturb on iOS (interruption-level critical needs Apple's
entitlement; without it iOS treats it as time-sensitive).
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
    "normal": ServicePriority(10, "active", "NORMAL", "normal"),
    "low": ServicePriority(5, "passive", "NORMAL", "low"),
}


def for_priority(priority: str) -> ServicePriority:
    return PRIORITIES.get(priority, PRIORITIES["normal"])
