"""Concurrent registrations on the embedded SQLite default: no "database is locked", no 500.

The example project (what ``make demo`` runs, and what a small site copies) is served by a threaded
WSGI server in a child process, on a SQLite file (an in-memory test database would not show
SQLite's file locking), and 20 threads register devices at once: some the same token, some others.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import select
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
THREADS = 20
REQUESTS_PER_THREAD = 3  # 30 per user: within the default throttle of 60/min
SHARED_TOKEN = "ab" * 32

SERVER = """
import django
from django.conf import settings

# The example project as it is, but a cheap password hash: each request authenticates (Basic), and
# PBKDF2 would make this test about the CPU, not the database.
settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
django.setup()
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
from django.db import connection

call_command("migrate", verbosity=0, interactive=False)
for name in ("alice", "bob"):
    get_user_model().objects.create_user(name, password="pw")
journal = connection.cursor().execute("PRAGMA journal_mode").fetchone()[0]
connection.close()

from example_project.wsgi import application

class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass

server = ThreadedWSGIServer(("127.0.0.1", 0), QuietHandler)
server.set_app(application)
print(server.server_address[1], journal, flush=True)
server.serve_forever()
"""


@pytest.fixture
def example_site(tmp_path: Path) -> Iterator[tuple[int, str, Path]]:
    """(port, journal mode, database file) of the example project served on a fresh SQLite file."""
    db = tmp_path / "db.sqlite3"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "example_project.settings",
        "DJANGO_DB_PATH": str(db),
        "DJANGO_DEBUG": "0",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("DJANGO_PUSH_TEST_SERVICES", None)
    child = subprocess.Popen(
        [sys.executable, "-c", SERVER], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        started, _, _ = select.select([child.stdout], [], [], 120)
        assert started, "the example site did not start within 120 s"
        first = child.stdout.readline().split()
        assert len(first) == 2, f"the example site did not start (exit code {child.poll()})"
        yield int(first[0]), first[1], db
    finally:
        child.terminate()
        child.wait(timeout=30)


def register(port: int, user: str, token: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(
            "POST",
            "/api/push/devices/",
            body=json.dumps({"platform": "apns", "token": token, "name": "phone"}),
            headers={
                "Content-Type": "application/json",
                "Authorization": "Basic " + base64.b64encode(f"{user}:pw".encode()).decode(),
            },
        )
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def test_concurrent_registrations_on_sqlite_all_succeed(example_site):
    port, journal, db = example_site
    barrier = threading.Barrier(THREADS)

    def client(i: int) -> list[tuple[str, int]]:
        user = ("alice", "bob")[i % 2]
        barrier.wait(timeout=60)
        results = []
        for j in range(REQUESTS_PER_THREAD):
            # Half the threads all register one token; the others a token of their own each time.
            token = SHARED_TOKEN if i < THREADS // 2 else f"{i:032x}{j:032x}"
            results.append((token, register(port, user, token)))
        return results

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        results = [r for rs in pool.map(client, range(THREADS)) for r in rs]

    statuses = [status for _, status in results]
    assert [s for s in statuses if s not in (200, 201)] == []
    shared = [status for token, status in results if token == SHARED_TOKEN]
    assert shared.count(201) == 1  # one row created, every other request refreshed it
    assert journal == "wal"
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT address, COUNT(*) FROM django_push_device GROUP BY address").fetchall()
    distinct = 1 + (THREADS - THREADS // 2) * REQUESTS_PER_THREAD
    assert len(rows) == distinct
    assert all(count == 1 for _, count in rows)
