"""Fixtures for rules, types, preferences, quiet hours, rate limits, rendering and the inbox."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest
from django.utils import timezone

from django_push.compose import events
from django_push.compose.policies import DEFAULT_FILTERS
from django_push.dispatch import jobs

if TYPE_CHECKING:
    pass

LOCALE_DIR = Path(__file__).parent / "locale"
API = "/api/push/"


@pytest.fixture(autouse=True)
def _rules_connected() -> None:
    # django_push's AppConfig.ready() calls this once receivers.connect() does (idempotent).
    events.connect_rules()


@pytest.fixture(autouse=True)
def _compose_settings(settings: Any) -> None:
    """Filters and the renderer on, a rate-limit cache of the test's own, the inbox URLs mounted;
    ``push_conf(KEY=value)`` (tests/conftest.py) changes more DJANGO_PUSH keys for one test."""
    settings.ROOT_URLCONF = "tests.compose.urls"
    settings.CACHES = {
        **settings.CACHES,
        "push-rate": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"push-rate-{uuid.uuid4()}",
        },
    }
    settings.DJANGO_PUSH = {
        **settings.DJANGO_PUSH,
        "DELIVERY_FILTERS": list(DEFAULT_FILTERS),
        "MESSAGE_RENDERER": "django_push.compose.rendering.render",
        "RATE_LIMIT_CACHE": "push-rate",
    }


class Clock:
    """The time seam: ``django.utils.timezone.now`` (read by dispatch and the filters) returns
    ``now``, and eager dispatch's in-process waits (``jobs.time.sleep``) move it instead of sleeping."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def set(self, when: datetime) -> None:
        self.now = when

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    c = Clock(datetime(2026, 1, 15, 12, 0, tzinfo=dt_timezone.utc))
    monkeypatch.setattr(timezone, "now", c)
    monkeypatch.setattr(jobs, "time", SimpleNamespace(sleep=lambda seconds: c.advance(seconds=seconds)))
    yield c


@pytest.fixture
def french(settings: Any) -> None:
    """The tests' own French catalog (tests/compose/locale)."""
    settings.LOCALE_PATHS = [str(LOCALE_DIR)]


@pytest.fixture
def anon_client(anon: Any) -> Any:
    return anon
