"""django_push.sqlite.sqlite_options: WAL and BEGIN IMMEDIATE, on Django 5.1+ and on older Djangos."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import django
import pytest
from django.db.backends.signals import connection_created
from django.db.utils import ConnectionHandler

from django_push import sqlite


@pytest.fixture
def legacy_django(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Pretend to be Django 4.2 (no transaction_mode/init_command options)."""
    monkeypatch.setattr(django, "VERSION", (4, 2, 0, "final", 0))
    yield
    connection_created.disconnect(dispatch_uid=sqlite._RECEIVER_UID)


def _open(path, options):
    handler = ConnectionHandler(
        {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(path), **options}}
    )
    return handler["default"]


def _assert_concurrent_writer_setup(path, options) -> None:
    conn = _open(path, {"OPTIONS": options})
    try:
        with conn.cursor() as cursor:
            assert cursor.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert cursor.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        # What transaction.atomic() does: the write lock is taken at BEGIN, before any write...
        conn.set_autocommit(False, force_begin_transaction_with_broken_autocommit=True)
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            with pytest.raises(sqlite3.OperationalError, match="database is locked"):
                other.execute("BEGIN IMMEDIATE")
            # ... and readers are not blocked by it (WAL).
            assert other.execute("SELECT 1").fetchone() == (1,)
        finally:
            other.close()
        conn.rollback()
        conn.set_autocommit(True)
    finally:
        conn.close()


@pytest.fixture(autouse=True)
def _own_database(django_db_blocker):
    """These tests open their own SQLite file, not the test database."""
    with django_db_blocker.unblock():
        yield


def test_options_on_this_django(tmp_path):
    options = sqlite.sqlite_options()
    if django.VERSION >= (5, 1):
        assert options == {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL",
        }
    _assert_concurrent_writer_setup(tmp_path / "db.sqlite3", options)


def test_options_on_django_before_5_1(tmp_path, legacy_django):
    options = sqlite.sqlite_options(timeout=7)
    assert options == {"timeout": 7}  # Django 4.2 passes OPTIONS to sqlite3.connect(): nothing else
    _assert_concurrent_writer_setup(tmp_path / "db.sqlite3", options)
