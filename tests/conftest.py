"""Fixtures every test package shares: clean push state, users, API clients, settings changes."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from typing import Any

import pytest

pytest_plugins = ["django_push.testing"]

SERVICES = os.environ.get("DJANGO_PUSH_TEST_SERVICES") == "1"
BARE = os.environ.get("DJANGO_PUSH_TEST_BARE") == "1"

# Tests and extras (the one rule that leaves tests out for a missing dependency):
# a test module, conftest, fixture or test that needs an extra calls ``pytest.importorskip(<the
# extra's own module>)`` first: "rest_framework" (api), "google.auth" (fcm), "http_ece" (webpush),
# "celery" or "django_celery_beat" (celery). Nothing else is skipped for a missing import. So that
# this never hides a missing part, the session first checks the environment:
# * DJANGO_PUSH_TEST_BARE=1 (`tox -e bare`, the third CI run): the package is installed without
#   extras, with pytest, pytest-django and factory-boy only, and run with -m "not browser" (the
#   browser tests need Playwright). No extra may be importable, so the skipped tests are exactly
#   those that need one, and everything else proves the core alone.
# * otherwise every extra but "fast" (jh2, optional even in tests) must be installed: nothing can be
#   skipped for a missing extra in the full suite.
EXTRAS_THE_SUITE_NEEDS = ("apns", "fcm", "webpush", "api", "celery")

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
    pytest.importorskip("rest_framework")  # the "api" extra (see the rule above)
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
        users", which pytest-django only warns about, and the database is left behind. Whoever still
        holds one after a grace period is named (so a leak can be found) and disconnected, so the
        database is always dropped."""
        yield
        from django.db import connection, connections

        name = connection.settings_dict["NAME"]
        with django_db_blocker.unblock():
            connections.close_all()  # this thread's; pytest-django drops the database next
        holders = _other_connections(connection.settings_dict, name, terminate=True)
        if holders:
            print(
                f"\ndjango_push tests: connections to {name} left open at the end of the run were closed "
                f"(application_name, client port, state, last query): {holders}"
            )


def _other_connections(
    settings_dict: dict, name: str, timeout: float = 10.0, terminate: bool = False
) -> list[tuple]:
    """Backends connected to ``name``, waited for up to ``timeout`` (a killed client's go at once);
    with ``terminate``, those still there are then disconnected."""
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
                break
            time.sleep(0.1)
        if rows and terminate:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                "AND pid <> pg_backend_pid()",
                [name],
            )
        return rows


def pytest_sessionstart(session: pytest.Session) -> None:
    from django_push import extras

    if BARE:
        present = sorted(
            {
                distribution
                for name, modules in extras.EXTRAS.items()
                if name != "apns"  # PyJWT and cryptography are in the core
                for module, distribution in modules.items()
                if extras.importable(module)
            }
        )
        if present:
            raise pytest.UsageError(
                f"DJANGO_PUSH_TEST_BARE=1 runs the core without extras, but these are installed: "
                f"{', '.join(present)}. Use a fresh virtualenv (tox -e bare)."
            )
    else:
        absent = {name: extras.missing(name) for name in EXTRAS_THE_SUITE_NEEDS if extras.missing(name)}
        if absent:
            raise pytest.UsageError(
                "The test suite needs every extra (pip install -e '.[test]'); missing: "
                + "; ".join(f"[{name}] {', '.join(dists)}" for name, dists in absent.items())
                + ". DJANGO_PUSH_TEST_BARE=1 runs the core selection instead."
            )
