"""How long to wait before trying again: exponential backoff with jitter, bounded."""

from __future__ import annotations

import random

from django_push.conf import push_settings


def backoff(attempt: int) -> float:
    """Exponential backoff with jitter: base·2^(attempt-1), capped, times a random 0.5–1.0."""
    base = float(push_settings.RETRY_BACKOFF_BASE)
    cap = float(push_settings.RETRY_BACKOFF_MAX)
    return min(cap, base * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
