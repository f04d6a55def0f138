"""Set-based cleanup: stale devices and old delivery rows, in batched SQL (never a row-by-row loop)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from .lifecycle import stale_devices
from .models import Delivery, Device

BATCH = 50_000


def clear_stale_devices(
    days: int, *, delete: bool = False, dry_run: bool = False, now: datetime | None = None
) -> int:
    """Deactivate (or delete) devices with no success in ``days``; returns how many."""
    now = now or timezone.now()
    qs = stale_devices(days, now)
    if dry_run:
        return (qs if delete else qs.filter(active=True)).count()
    if delete:
        return _batched(
            qs, lambda ids: Device.objects.filter(pk__in=ids).delete()[1].get(Device._meta.label, 0)
        )
    reason = f"stale: no successful push in {days} days"
    return _batched(
        qs.filter(active=True),
        lambda ids: Device.objects.filter(pk__in=ids, active=True).update(
            active=False, deactivated_at=now, deactivation_reason=reason
        ),
    )


def prune_deliveries(days: int, *, now: datetime | None = None) -> int:
    cutoff = (now or timezone.now()) - timedelta(days=days)
    qs = Delivery.objects.filter(Q(created_at__lt=cutoff))
    return _batched(qs, lambda ids: Delivery.objects.filter(pk__in=ids)._raw_delete(Delivery.objects.db))


def _batched(qs: QuerySet[Any], action: Callable[[list[int]], int]) -> int:
    """Apply ``action`` to id batches (bounded memory and lock time on millions of rows)."""
    total = 0
    last = 0
    while True:
        ids = list(qs.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:BATCH])
        if not ids:
            return total
        total += action(ids)
        last = ids[-1]
