"""Set-based cleanup: stale devices and old delivery rows, in batched SQL (never a row-by-row loop)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Max, Min, QuerySet
from django.utils import timezone

from django_push.devices.lifecycle import deactivate, stale_devices
from django_push.models import Delivery, Device

BATCH = 50_000


def clear_stale_devices(
    days: int, *, delete: bool = False, dry_run: bool = False, now: datetime | None = None
) -> int:
    """Deactivate (or delete) devices with no success in ``days``; returns how many."""
    now = now or timezone.now()
    qs = stale_devices(days, now)
    if not delete:
        qs = qs.filter(active=True)
    if dry_run:
        return qs.count()
    if delete:
        return _batched(qs, lambda batch: batch.delete()[1].get(Device._meta.label, 0))
    reason = f"stale: no successful push in {days} days"
    return _batched(qs, lambda batch: deactivate(batch, reason, now))


def prune_deliveries(days: int, *, now: datetime | None = None) -> int:
    cutoff = (now or timezone.now()) - timedelta(days=days)
    qs = Delivery.objects.filter(created_at__lt=cutoff)
    return _batched(qs, lambda batch: batch._raw_delete(batch.db))


def _batched(qs: QuerySet[Any], action: Callable[[QuerySet[Any]], int]) -> int:
    """Apply ``action`` to primary-key ranges of ``qs``: one statement per range, no ids fetched.

    Bounded lock time and transaction size on millions of rows, and each statement is an index
    range scan, so the whole run is linear in the table size.
    """
    bounds = qs.aggregate(lo=Min("pk"), hi=Max("pk"))
    if bounds["lo"] is None:
        return 0
    total = 0
    for start in range(bounds["lo"], bounds["hi"] + 1, BATCH):
        total += action(qs.filter(pk__gte=start, pk__lt=start + BATCH))
    return total
