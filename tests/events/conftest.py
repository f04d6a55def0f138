"""Fixtures for rules, types, preferences, quiet hours, rate limits, rendering and the inbox."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest
from django.utils import timezone

from django_push import events, jobs
from django_push.delivery_filters import DEFAULT_FILTERS

from ..factories import UserFactory

if TYPE_CHECKING:
    from rest_framework.test import APIClient

LOCALE_DIR = Path(__file__).parent / "locale"
API = "/api/push/"


@pytest.fixture(autouse=True)
def _rules_connected() -> None:
    # django_push's AppConfig.ready() calls this once receivers.connect() does (idempotent).
    events.connect_rules()


@pytest.fixture(autouse=True)
def push_conf(settings: Any) -> Callable[..., None]:
    """Filters and the renderer on, a rate-limit cache of the test's own; ``push_conf(KEY=value)``
    changes more DJANGO_PUSH keys for one test."""
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
        "MESSAGE_RENDERER": "django_push.rendering.render",
        "RATE_LIMIT_CACHE": "push-rate",
    }

    def set_(**values: Any) -> None:
        settings.DJANGO_PUSH = {**settings.DJANGO_PUSH, **values}

    return set_


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
    """The tests' own French catalog (tests/events/locale)."""
    settings.LOCALE_PATHS = [str(LOCALE_DIR)]


@pytest.fixture
def user(db: None) -> Any:
    return UserFactory()


@pytest.fixture
def other_user(db: None) -> Any:
    return UserFactory()


@pytest.fixture
def api(user: Any, settings: Any) -> APIClient:
    pytest.importorskip("rest_framework")  # the "api" extra (see tests/conftest.py)
    from rest_framework.test import APIClient

    settings.ROOT_URLCONF = "tests.events.urls"
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def other_api(other_user: Any, settings: Any) -> APIClient:
    pytest.importorskip("rest_framework")  # the "api" extra (see tests/conftest.py)
    from rest_framework.test import APIClient

    settings.ROOT_URLCONF = "tests.events.urls"
    client = APIClient()
    client.force_authenticate(other_user)
    return client


@pytest.fixture
def anon_client(db: None, settings: Any) -> APIClient:
    pytest.importorskip("rest_framework")  # the "api" extra (see tests/conftest.py)
    from rest_framework.test import APIClient

    settings.ROOT_URLCONF = "tests.events.urls"
    return APIClient()
