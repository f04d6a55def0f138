"""The notification page's engagement and hold displays: the funnel targeted → sent → opened →
clicked per platform (inline SVG: nothing fetched, nothing to load), and "held until …" for
deliveries waiting out quiet hours.

Per platform means per ``Delivery.platform`` value found in the rows, labelled from ``Platform``'s
choices when it is one: a new Platform value (a channel) gets its row with no change here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Count, Max, Min, Q
from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from django_push.models import Delivery, Notification, NotificationStatus, Platform
from django_push.results import DeliveryStatus

#: The funnel's stages: (key, label) in order.
STAGES = (("targeted", "targeted"), ("sent", "sent"), ("opened", "opened"), ("clicked", "clicked"))
BAR_WIDTH = 300
ROW_HEIGHT = 22


def platform_label(value: str) -> str:
    """A platform's (or channel's) display name; an unknown value shows as itself."""
    labels = dict(Platform.choices)
    return str(labels.get(value, value))


def funnel(notification: Notification) -> list[dict[str, Any]]:
    """One entry per platform with deliveries: counts per stage and rates against ``sent``."""
    rows = (
        Delivery.objects.filter(notification=notification)
        .values("platform")
        .annotate(
            targeted=Count("id"),
            sent=Count("id", filter=Q(status=DeliveryStatus.SENT)),
            opened=Count("opened_at"),
            clicked=Count("clicked_at"),
        )
        .order_by("platform")
    )
    return [
        {
            "platform": row["platform"],
            "label": platform_label(row["platform"]),
            "targeted": row["targeted"],
            "sent": row["sent"],
            "opened": row["opened"],
            "clicked": row["clicked"],
            "open_rate": rate(row["opened"], row["sent"]),
            "click_rate": rate(row["clicked"], row["sent"]),
        }
        for row in rows
    ]


def rate(part: int, whole: int) -> float | None:
    """``part`` as a percentage of ``whole`` (one decimal), or None when there is nothing to divide."""
    return round(100 * part / whole, 1) if whole else None


def funnel_svg(entry: dict[str, Any]) -> SafeString:
    """One platform's funnel as an accessible inline SVG (its text alternative says every number)."""
    top = max(entry["targeted"], 1)
    labels = {"targeted": _("targeted"), "sent": _("sent"), "opened": _("opened"), "clicked": _("clicked")}
    summary = ", ".join(f"{labels[key]} {entry[key]}" for key, _label in STAGES)
    bars = format_html_join(
        "",
        '<g transform="translate(0,{})"><text x="0" y="15" class="dp-funnel-label">{}</text>'
        '<rect x="80" y="3" height="16" width="{}" class="dp-funnel-{}" data-stage="{}" '
        'data-count="{}"></rect>'
        '<text x="{}" y="15" class="dp-funnel-count">{}</text></g>',
        (
            (
                i * ROW_HEIGHT,
                labels[key],
                max(1, round(BAR_WIDTH * entry[key] / top)) if entry[key] else 0,
                key,
                key,
                entry[key],
                86 + (round(BAR_WIDTH * entry[key] / top) if entry[key] else 0),
                entry[key],
            )
            for i, (key, _label) in enumerate(STAGES)
        ),
    )
    return format_html(
        '<svg class="dp-funnel" viewBox="0 0 460 {}" width="460" height="{}" role="img" aria-label="{}: {}" '
        'data-platform="{}">{}</svg>',
        ROW_HEIGHT * len(STAGES),
        ROW_HEIGHT * len(STAGES),
        entry["label"],
        summary,
        entry["platform"],
        bars,
    )


def held(notification: Notification, now: datetime | None = None) -> dict[str, Any] | None:
    """Deliveries a filter held (quiet hours): pending, unclaimed, with a next attempt ahead.

    Retries wait too, but as THROTTLED/UNAVAILABLE; a hold leaves the row PENDING with its reason.
    """
    if notification.status not in (NotificationStatus.QUEUED, NotificationStatus.SENDING):
        return None
    now = now or timezone.now()
    found = Delivery.objects.filter(
        notification=notification, status=DeliveryStatus.PENDING, claim="", next_attempt_at__gt=now
    ).aggregate(
        count=Count("id"), until=Min("next_attempt_at"), last=Max("next_attempt_at"), reason=Max("reason")
    )
    if not found["count"]:
        return None
    return {
        "count": found["count"],
        "until": found["until"].isoformat(),
        "until_display": formats.date_format(timezone.localtime(found["until"]), "DATETIME_FORMAT"),
        "last_display": formats.date_format(timezone.localtime(found["last"]), "DATETIME_FORMAT"),
        "reason": found["reason"],
    }
