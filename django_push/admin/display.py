"""Small renderers shared by the push admin pages: audience summaries, progress bars, outcome charts."""

from __future__ import annotations

from typing import Any

from django.db.models import Count
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from django_push.models import Delivery, Notification, NotificationStatus, Platform
from django_push.results import DeliveryStatus

FINAL_STATUSES = (NotificationStatus.DONE, NotificationStatus.FAILED, NotificationStatus.CANCELLED)

#: Order of the segments in a platform's bar; the CSS colours them by ``dp-status-<value>``.
STATUS_ORDER = (
    DeliveryStatus.SENT,
    DeliveryStatus.SKIPPED,
    DeliveryStatus.INVALID_TOKEN,
    DeliveryStatus.REJECTED,
    DeliveryStatus.FAILED,
    DeliveryStatus.THROTTLED,
    DeliveryStatus.UNAVAILABLE,
    DeliveryStatus.PENDING,
)


def audience_summary(spec: dict[str, Any] | None) -> str:
    """A one-line description of an audience spec, e.g. "topics: news · platforms: apns"."""
    spec = spec or {}
    parts: list[str] = []
    if spec.get("all"):
        parts.append(_("everyone"))
    for key, label in (("topics", _("topics")), ("platforms", _("platforms"))):
        if spec.get(key):
            parts.append(f"{label}: {', '.join(map(str, spec[key]))}")
    if spec.get("users"):
        n = len(spec["users"])
        parts.append(ngettext("%(n)d user", "%(n)d users", n) % {"n": n})
    if spec.get("devices"):
        n = len(spec["devices"])
        parts.append(ngettext("%(n)d device", "%(n)d devices", n) % {"n": n})
    for key, label in (("applications", _("applications")), ("locales", _("locales"))):
        if spec.get(key):
            parts.append(f"{label}: {', '.join(map(str, spec[key]))}")
    if spec.get("filter"):
        parts.append(_("filter: %(keys)s") % {"keys": ", ".join(sorted(spec["filter"]))})
    return " · ".join(parts) or _("nobody")


def progress_bar(notification: Notification, *, small: bool = False) -> SafeString:
    pct = notification.progress
    return format_html(
        '<div class="dp-progress{}" role="progressbar" aria-valuemin="0" aria-valuemax="100" '
        'aria-valuenow="{}"><div class="dp-progress-fill dp-status-{}" style="width: {}%"></div>'
        '<span class="dp-progress-text">{}%</span></div>',
        " dp-progress-small" if small else "",
        pct,
        notification.status,
        pct,
        pct,
    )


def progress_data(notification: Notification) -> dict[str, Any]:
    """What the progress endpoint returns and the detail page starts from."""
    return {
        "id": notification.pk,
        "status": notification.status,
        "status_display": str(notification.get_status_display()),
        "progress": notification.progress,
        "targeted": notification.targeted,
        "sent": notification.sent,
        "failed": notification.failed,
        "invalid": notification.invalid,
        "skipped": notification.skipped,
        "unknown": notification.unknown,
        "pending": notification.pending,
        "final": notification.status in FINAL_STATUSES,
    }


def outcome_chart(notification: Notification) -> list[dict[str, Any]]:
    """One row per platform: its deliveries split by status, with percentages for CSS bars."""
    counts: dict[str, dict[str, int]] = {}
    rows = (
        Delivery.objects.filter(notification=notification)
        .values_list("platform", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    for platform, status, n in rows:
        counts.setdefault(platform, {})[status] = n
    chart = []
    for platform in Platform:
        by_status = counts.get(platform.value)
        if not by_status:
            continue
        total = sum(by_status.values())
        chart.append(
            {
                "platform": platform.value,
                "label": str(platform.label),
                "total": total,
                "segments": [
                    {
                        "status": status.value,
                        "label": str(status.label),
                        "count": by_status[status.value],
                        "percent": round(100 * by_status[status.value] / total, 2),
                    }
                    for status in STATUS_ORDER
                    if by_status.get(status.value)
                ],
            }
        )
    return chart
