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


if SERVICES:

    @pytest.fixture(scope="session", autouse=True)
    def _nobody_else_holds_the_test_database(django_db_setup, django_db_blocker):
        """Before pytest-django drops the test database: no connection but its own may be left
        (a worker's, a thread's), or the drop fails with "database ... is being accessed by other
        users", which pytest-django only warns about. Names whoever still holds one."""
        yield
        from django.db import connection, connections

        name = connection.settings_dict["NAME"]
        with django_db_blocker.unblock():
            connections.close_all()  # this thread's; pytest-django drops the database next
        holders = _other_connections(connection.settings_dict, name)
        if holders:
            pytest.fail(
                f"connections to {name} still open at the end of the run, so it cannot be dropped "
                f"(application_name, client port, state, last query): {holders}",
                pytrace=False,
            )


def _other_connections(settings_dict: dict, name: str, timeout: float = 10.0) -> list[tuple]:
    """Backends connected to ``name``, waited for up to ``timeout`` (a killed client's go at once)."""
    import time

    import psycopg

    deadline = time.monotonic() + timeout
    with psycopg.connect(
        host=settings_dict["HOST"],
        port=settings_dict["PORT"],
        user=settings_dict["USER"],
        password=settings_dict.get("PASSWORD") or None,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        while True:
            rows = conn.execute(
                "SELECT application_name, client_port, state, left(query, 120) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                [name],
            ).fetchall()
            if not rows or time.monotonic() > deadline:
                return rows
            time.sleep(0.1)
