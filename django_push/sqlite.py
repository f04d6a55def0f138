"""SQLite for concurrent writers: the ``OPTIONS`` of a SQLite ``DATABASES`` entry serving several
requests at once (``runserver``, gunicorn threads, a Celery worker beside the site)::

    from django_push.sqlite import sqlite_options

    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": BASE_DIR / "db.sqlite3",
            "OPTIONS": sqlite_options(),
        }
    }

With Django's defaults, concurrent registrations fail with "database is locked" (500): a transaction
starts as a reader (``BEGIN``) and, when it then writes while another connection is writing, SQLite
refuses at once instead of waiting (waiting could deadlock). So:

* transactions begin ``IMMEDIATE``: a writer takes the write lock at ``BEGIN`` and the others wait for
  it, up to ``timeout`` seconds (the busy timeout), instead of failing;
* ``journal_mode=WAL``: readers never wait for the writer, nor it for them; ``synchronous=NORMAL``,
  the usual companion of WAL (a power loss may lose the last commits, never corrupt the file).

Django 5.1+ has the ``transaction_mode`` and ``init_command`` options for this. On Django 4.2–5.0 this
function returns ``{"timeout": ...}`` and connects a ``connection_created`` receiver that does the same
on every SQLite connection of the process (pragmas, and ``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

import types
from typing import Any

import django

DEFAULT_TIMEOUT = 20  # seconds a writer waits for another before "database is locked"
PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL")
_RECEIVER_UID = "django_push.sqlite.concurrent_writers"


def sqlite_options(timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
    """``OPTIONS`` for a SQLite database written by concurrent requests (see the module docstring)."""
    if django.VERSION >= (5, 1):
        return {"transaction_mode": "IMMEDIATE", "timeout": timeout, "init_command": ";".join(PRAGMAS)}
    from django.db.backends.signals import connection_created

    connection_created.connect(_tune, dispatch_uid=_RECEIVER_UID)
    return {"timeout": timeout}


def _tune(sender: Any, connection: Any, **kwargs: Any) -> None:
    """Django < 5.1: the pragmas, and ``BEGIN IMMEDIATE`` for this connection's transactions."""
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        for pragma in PRAGMAS:
            cursor.execute(pragma)
    connection._start_transaction_under_autocommit = types.MethodType(_begin_immediate, connection)


def _begin_immediate(connection: Any) -> None:
    connection.cursor().execute("BEGIN IMMEDIATE")
