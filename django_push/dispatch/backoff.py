"""How long to wait before trying again: exponential backoff with jitter, bounded."""

from __future__ import annotations

import random

from django_push.conf import push_settings


def backoff(attempt: int) -> float:
    """Exponential backoff with jitter: base·2^(attempt-1), capped, times a random 0.5–1.0."""
    base = float(push_settings.RETRY_BACKOFF_BASE)
    cap = float(push_settings.RETRY_BACKOFF_MAX)
    return min(cap, base * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)


def scheduled_retry(platform: str, application: str, attempts: int) -> float | None:
    """Seconds before the next attempt when the backend declares a ``retry_schedule`` (webhooks:
    Svix's), with ±10 % jitter, after ``attempts`` attempts; ``-1.0`` when the schedule is used up (give
    up); None when it declares none (``backoff`` and ``RETRY_BUDGET`` apply)."""
    from django_push.exceptions import PushConfigurationError
    from django_push.handler import backends

    try:
        schedule = backends[platform, application].retry_schedule
    except PushConfigurationError:
        return None
    if schedule is None:
        return None
    if attempts > len(schedule):
        return -1.0
    return float(schedule[attempts - 1]) * random.uniform(0.9, 1.1)
