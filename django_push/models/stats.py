"""Aggregates over deliveries for the admin dashboard: the last N days by day, platform and status;
opens by day and platform; the most frequent failure reasons.

Each is one GROUP BY over a time range, shaped for an index of migration 0004 so that PostgreSQL
answers it from the index alone (an index-only scan; the table is not read while the visibility map
is current, i.e. after autovacuum):

* :func:`daily_outcomes` — ``django_push_deliv_day`` on (created_at, platform, status);
* :func:`daily_opens` — ``django_push_deliv_opened`` on (opened_at, platform) WHERE opened_at IS NOT NULL
  (partial: only opened rows are in it, so it stays small);
* :func:`top_failures` — ``django_push_deliv_errors`` on (created_at, error_code) WHERE error_code <> ''
  (partial: only failed rows), then one example reason per code for the top few.

Measured at 1,000,000 deliveries by ``bench/dashboard_scale.py`` (figures in docs/performance.md).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.db.models import Count
from django.db.models.functions import TruncDate

from django_push.models.notifications import Delivery


def daily_outcomes(since: datetime) -> list[dict[str, Any]]:
    """``[{"day", "platform", "status", "n"}]`` for deliveries created since ``since``."""
    return [
        dict(row)
        for row in Delivery.objects.filter(created_at__gte=since)
        .annotate(day=TruncDate("created_at"))
        .values("day", "platform", "status")
        .annotate(n=Count("*"))
        .order_by("day", "platform", "status")
    ]


def daily_opens(since: datetime) -> list[dict[str, Any]]:
    """``[{"day", "platform", "n"}]``: deliveries opened since ``since``, by the day they were opened."""
    return [
        dict(row)
        for row in Delivery.objects.filter(opened_at__gte=since)
        .annotate(day=TruncDate("opened_at"))
        .values("day", "platform")
        .annotate(n=Count("*"))
        .order_by("day", "platform")
    ]


def top_failures(since: datetime, limit: int = 10) -> list[dict[str, Any]]:
    """``[{"error_code", "n", "reason"}]``: the most frequent error codes since ``since``, each with
    one recent reason as an example."""
    codes: list[dict[str, Any]] = [
        dict(row)
        for row in Delivery.objects.filter(created_at__gte=since)
        .exclude(error_code="")
        .values("error_code")
        .annotate(n=Count("*"))
        .order_by("-n", "error_code")[:limit]
    ]
    for row in codes:
        row["reason"] = (
            Delivery.objects.filter(created_at__gte=since, error_code=row["error_code"])
            .exclude(error_code="")
            .order_by("-created_at")
            .values_list("reason", flat=True)
            .first()
            or ""
        )
    return codes


def days(since: date, until: date) -> list[date]:
    """Every day from ``since`` to ``until`` inclusive (the chart's x axis: days without rows too)."""
    return [date.fromordinal(o) for o in range(since.toordinal(), until.toordinal() + 1)]
