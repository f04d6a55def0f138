"""Fixtures every test package shares: clean push state, users, API clients, settings changes."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from typing import Any

import pytest

pytest_plugins = ["django_push.testing"]

SERVICES = os.environ.get("DJANGO_PUSH_TEST_SERVICES") == "1"

collect_ignore_glob: list[str] = []
if not SERVICES:
    # PostgreSQL + Redis + Celery worker tests: run by `DJANGO_PUSH_TEST_SERVICES=1 make test` (CI does).
    collect_ignore_glob.append("integration/*")
if not shutil.which("chromium") and not os.environ.get("CI"):
    # Browser tests need Debian's chromium; `make test` installs it where it can (root + apt-get),
    # and CI always has it, so there these tests always run.
    print("django_push tests: /usr/bin/chromium not found; browser tests not collected")
    collect_ignore_glob.append("e2e/*")


@pytest.fixture(autouse=True)
def _clean_push_state():
    from django_push import testing

    testing.reset()
    yield
    testing.reset()


@pytest.fixture
def push_conf(settings: Any) -> Callable[..., None]:
    """``push_conf(API_THROTTLE_RATE="1/min")``: change DJANGO_PUSH keys for one test."""

    def set_(**values: Any) -> None:
        settings.DJANGO_PUSH = {**settings.DJANGO_PUSH, **values}

    return set_


@pytest.fixture
def user(db: None) -> Any:
    from .factories import UserFactory

    return UserFactory()


@pytest.fixture
def other_user(db: None) -> Any:
    from .factories import UserFactory

    return UserFactory()


def _client(user: Any = None) -> Any:
    from rest_framework.test import APIClient

    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def api(user: Any) -> Any:
    """An API client signed in as ``user`` (the package's conftest mounts the URLs it tests)."""
    return _client(user)


@pytest.fixture
def other_api(other_user: Any) -> Any:
    return _client(other_user)


@pytest.fixture
def anon(db: None) -> Any:
    return _client()
