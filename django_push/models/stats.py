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

At a million deliveries the daily outcomes still read every row of the window (PostgreSQL rightly
prefers a sequential scan when the window is most of the table), so :func:`settled` keeps the days
before yesterday — settled: their deliveries were answered, retried and given up on long ago — in
the cache as a rollup computed once a day, and only yesterday and today are counted live. Opens of a
past day never change (``opened_at`` is set once). A manual "Retry failed" on an old notification
shows in the chart once the rollup is recomputed (within :data:`ROLLUP_SECONDS`).

Measured at 1,000,000 deliveries by ``bench/dashboard_scale.py`` (figures in docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any

from django.core.cache import cache
from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from django_push.models.notifications import Delivery

ROLLUP_SECONDS = 6 * 3600


def daily_outcomes(since: datetime, until: datetime | None = None) -> list[dict[str, Any]]:
    """``[{"day", "platform", "status", "n"}]`` for deliveries created in [since, until)."""
    rows = Delivery.objects.filter(created_at__gte=since)
    if until is not None:
        rows = rows.filter(created_at__lt=until)
    return [
        dict(row)
        for row in rows.annotate(day=TruncDate("created_at"))
        .values("day", "platform", "status")
        .annotate(n=Count("*"))
        .order_by("day", "platform", "status")
    ]


def daily_opens(since: datetime, until: datetime | None = None) -> list[dict[str, Any]]:
    """``[{"day", "platform", "n"}]``: deliveries opened in [since, until), by the day they were opened."""
    rows = Delivery.objects.filter(opened_at__gte=since)
    if until is not None:
        rows = rows.filter(opened_at__lt=until)
    return [
        dict(row)
        for row in rows.annotate(day=TruncDate("opened_at"))
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


def start_of(day: date) -> datetime:
    """Midnight of ``day`` in the current time zone (the day boundaries TruncDate groups by)."""
    return timezone.make_aware(datetime.combine(day, time.min))


def settled(
    query: Callable[[datetime, datetime | None], list[dict[str, Any]]], first: date, today: date
) -> tuple[list[dict[str, Any]], bool]:
    """``query``'s rows from ``first`` to now: the settled days (before yesterday) from the cached
    rollup (computed on a miss), yesterday and today live. Returns (rows, whether the rollup was
    cached)."""
    live_from = today - timedelta(days=1)
    key = f"django_push:rollup:{query.__name__}:{timezone.get_current_timezone_name()}:{first}:{live_from}"
    rollup = cache.get(key)
    cached = rollup is not None
    if rollup is None:
        rollup = query(start_of(first), start_of(live_from)) if first < live_from else []
        cache.set(key, rollup, ROLLUP_SECONDS)
    return [*rollup, *query(start_of(max(first, live_from)), None)], cached
