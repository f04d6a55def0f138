"""The push dashboard: the last 30 days of deliveries (sent, failed, invalid tokens) and opens, by day
and platform, and the top failure reasons. ``admin/django_push/notification/dashboard/``; needs
``view_notification``.

The numbers come from three aggregate queries (:mod:`django_push.models.stats`), each served by an
index of migration 0004; the charts are inline SVG built here (nothing fetched, nothing to load), one
per platform found in the data, so a new Platform value (a channel) gets its chart unchanged.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from django_push.admin.charts import platform_label
from django_push.admin.notification_actions import forbidden
from django_push.models import Notification, stats
from django_push.results import DeliveryStatus

DAYS = 30
#: Delivery statuses counted in each series of the chart.
SERIES = {
    "sent": (DeliveryStatus.SENT,),
    "failed": (DeliveryStatus.FAILED, DeliveryStatus.REJECTED),
    "invalid": (DeliveryStatus.INVALID_TOKEN,),
}
BAR, GAP, HEIGHT = 14, 3, 110


def dashboard_view(model_admin: Any) -> Callable[[HttpRequest], HttpResponse]:
    def view(request: HttpRequest) -> HttpResponse:
        if not model_admin.has_view_permission(request):
            return forbidden(request, model_admin, "django_push.view_notification")
        today = timezone.localdate()
        first = today - timedelta(days=DAYS - 1)
        since = stats.start_of(first)
        data = collect(first, today)
        context = {
            **model_admin.admin_site.each_context(request),
            "opts": Notification._meta,
            "title": _("Push dashboard: the last %(days)d days") % {"days": DAYS},
            "charts": [{**entry, "svg": chart_svg(entry, data["days"])} for entry in data["platforms"]],
            "total": data["total"],
            "total_svg": chart_svg(data["total"], data["days"]),
            "failures": stats.top_failures(since),
            "first": first,
            "today": today,
        }
        request.current_app = model_admin.admin_site.name
        return TemplateResponse(request, "django_push/admin/dashboard.html", context)

    return view


def collect(first: date, today: date) -> dict[str, Any]:
    """Per platform and in total: ``{"platform", "label", "by_day": {day: {series: n}}, "totals"}``."""
    days = stats.days(first, today)
    series_of = {status: name for name, statuses in SERIES.items() for status in statuses}
    by_platform: dict[str, dict[date, dict[str, int]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(int))
    )
    outcomes, _cached = stats.settled(stats.daily_outcomes, first, today)
    opens, _cached = stats.settled(stats.daily_opens, first, today)
    for row in outcomes:
        name = series_of.get(row["status"])
        if name:
            by_platform[row["platform"]][row["day"]][name] += row["n"]
    for row in opens:
        by_platform[row["platform"]][row["day"]]["opened"] += row["n"]
    entries = []
    total: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for platform in sorted(by_platform):
        per_day = by_platform[platform]
        for day, counts in per_day.items():
            for name, n in counts.items():
                total[day][name] += n
        entries.append(_entry(platform, platform_label(platform), per_day))
    return {"days": days, "platforms": entries, "total": _entry("all", _("All platforms"), total)}


def _entry(key: str, label: str, per_day: dict[date, dict[str, int]]) -> dict[str, Any]:
    totals = {name: sum(c.get(name, 0) for c in per_day.values()) for name in (*SERIES, "opened")}
    return {"platform": key, "label": label, "by_day": per_day, "totals": totals}


def chart_svg(entry: dict[str, Any], days: list[date]) -> SafeString:
    """Stacked bars per day (sent, failed, invalid tokens) with opens as a line, on one scale."""
    per_day = entry["by_day"]
    peak = max([1, *(sum(per_day.get(d, {}).get(s, 0) for s in SERIES) for d in days)])
    columns = []
    points = []
    for i, day in enumerate(days):
        counts = per_day.get(day, {})
        x = i * (BAR + GAP)
        y = HEIGHT
        rects = []
        for name in SERIES:
            h = round(HEIGHT * counts.get(name, 0) / peak, 1)
            if h:
                y -= h
                rects.append((x, round(y, 1), BAR, h, name))
        tip = "{}: {}".format(
            formats.date_format(day, "SHORT_DATE_FORMAT"),
            ", ".join(f"{_(n)} {counts.get(n, 0)}" for n in (*SERIES, "opened")),
        )
        columns.append(
            format_html(
                '<g data-day="{}"><title>{}</title>{}</g>',
                day.isoformat(),
                tip,
                format_html_join(
                    "", '<rect x="{}" y="{}" width="{}" height="{}" class="dp-dash-{}"></rect>', rects
                ),
            )
        )
        points.append(
            f"{x + BAR / 2},{round(HEIGHT - min(HEIGHT, HEIGHT * counts.get('opened', 0) / peak), 1)}"
        )
    totals = entry["totals"]
    summary = _(
        "%(label)s, last %(days)d days: %(sent)d sent, %(failed)d failed, %(invalid)d invalid tokens, "
        "%(opened)d opened"
    ) % {
        "label": entry["label"],
        "days": len(days),
        **totals,
    }
    width = len(days) * (BAR + GAP)
    return format_html(
        '<svg class="dp-dash-chart" viewBox="0 0 {} {}" width="{}" height="{}" role="img" aria-label="{}" '
        'data-platform="{}">{}<polyline class="dp-dash-opened" fill="none" points="{}"></polyline></svg>',
        width,
        HEIGHT + 2,
        width,
        HEIGHT + 2,
        summary,
        entry["platform"],
        format_html_join("", "{}", ((c,) for c in columns)),
        " ".join(points),
    )
