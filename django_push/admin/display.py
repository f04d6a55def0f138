"""Small renderers shared by the push admin pages: audience summaries, progress bars, outcome charts."""

from __future__ import annotations

from typing import Any

from django.db.models import Count
from django.utils.html import format_html, format_html_join
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


def progress_bar(notification: Notification, *, small: bool = False, text: str = "") -> SafeString:
    """The bar; ``text`` replaces the percentage shown on it (e.g. "held until …")."""
    pct = notification.progress
    return format_html(
        '<div class="dp-progress{}" role="progressbar" aria-valuemin="0" aria-valuemax="100" '
        'aria-valuenow="{}"><div class="dp-progress-fill dp-status-{}" style="width: {}%"></div>'
        '<span class="dp-progress-text">{}</span></div>',
        " dp-progress-small" if small else "",
        pct,
        notification.status,
        pct,
        text or f"{pct}%",
    )


def progress_data(notification: Notification, held: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the progress endpoint returns and the detail page starts from. ``held``: the deliveries
    waiting out quiet hours (django_push.admin.charts.held); when every pending one is held, the bar
    says "held until …" rather than a percentage that does not move."""
    text = f"{notification.progress}%"
    if held and held["count"] >= notification.pending:
        text = _("held until %(when)s") % {"when": held["until_display"]}
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
        "displayed": notification.displayed,
        "opened": notification.opened,
        "clicked": notification.clicked,
        "open_rate": open_rate(notification),
        "held": held,
        "held_text": held_text(held),
        "progress_text": text,
        "final": notification.status in FINAL_STATUSES,
    }


def counters_cell(notification: Notification) -> SafeString:
    """ "1,265 / 3 / 1 / 0 of 1,270" with each number's meaning in its title (screen readers read the
    visually hidden labels)."""
    other = notification.skipped + notification.unknown
    parts = (
        (notification.sent, _("sent")),
        (notification.failed, _("failed")),
        (notification.invalid, _("invalid tokens")),
        (other, _("skipped or unknown")),
    )
    return format_html(
        '<span class="dp-cell-counters">{} {} <abbr title="{}">{}</abbr></span>',
        format_html_join(" / ", '<abbr title="{1}" aria-label="{0} {1}">{0}</abbr>', parts),
        _("of"),
        _("targeted"),
        notification.targeted,
    )


def held_text(held: dict[str, Any] | None) -> str:
    """ "3 deliveries held until 2 Dec 2026, 22:00 (quiet hours)." or ""."""
    if not held:
        return ""
    return ngettext(
        "%(count)d delivery held until %(when)s (%(reason)s).",
        "%(count)d deliveries held until %(when)s (%(reason)s).",
        held["count"],
    ) % {"count": held["count"], "when": held["until_display"], "reason": held["reason"] or _("a filter")}


def open_rate(notification: Notification) -> str:
    """Opened as a share of sent ("42.5%"), or "–" before anything was sent."""
    if not notification.sent:
        return "–"
    return f"{100 * notification.opened / notification.sent:.1f}%"


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
    labels = dict(Platform.choices)
    for platform in sorted(
        counts,
        key=lambda value: (value not in labels, list(labels).index(value) if value in labels else 0, value),
    ):
        by_status = counts[platform]
        total = sum(by_status.values())
        chart.append(
            {
                "platform": platform,
                "label": str(labels.get(platform, platform)),
                "total": total,
                "segments": [
                    {
                        "status": status.value,
                        "label": str(status.label),
                        "count": by_status[status.value],
                        "percent": round(100 * by_status[status.value] / total, 2),
                    }
                    for status in (*STATUS_ORDER, *(s for s in DeliveryStatus if s not in STATUS_ORDER))
                    if by_status.get(status.value)
                ],
            }
        )
    return chart
