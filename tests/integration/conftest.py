"""Fixtures for the PostgreSQL + Redis + real Celery worker suite (DJANGO_PUSH_TEST_SERVICES=1)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


class Worker:
    """A `celery worker` subprocess on the test database; can be killed and restarted."""

    def __init__(self, db_name: str, extra_env: dict[str, str] | None = None, concurrency: int = 2) -> None:
        self.db_name = db_name
        self.extra_env = extra_env or {}
        self.concurrency = concurrency
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = ROOT / ".pytest_cache" / "celery-worker.log"

    def start(self) -> None:
        env = {
            **os.environ,
            "DJANGO_PUSH_TEST_SERVICES": "1",
            "DJANGO_PUSH_TEST_DB": self.db_name,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DJANGO_PUSH_TEST_ROLE": "celery worker",
            **self.extra_env,
        }
        self.log.parent.mkdir(exist_ok=True)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "tests.celery_app",
                "worker",
                "--pool=prefork",
                f"--concurrency={self.concurrency}",
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_terminate_with_parent,
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60) -> None:
        from tests.celery_app import app

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc and self.proc.poll() is not None:
                raise RuntimeError(f"celery worker exited: see {self.log}")
            try:
                if app.control.ping(timeout=1.0):
                    return
            except Exception:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"celery worker did not answer a ping in {timeout}s: see {self.log}")

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool children): a crash, not a shutdown."""
        if self.proc:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
            _wait_group_gone(self.proc.pid)
            self.proc = None

    def stop(self) -> None:
        if self.proc:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
                return
            # The main process is gone; a pool child that outlived it would keep its database
            # connection (and the test database could not be dropped).
            if not _wait_group_gone(self.proc.pid, timeout=5):
                os.killpg(self.proc.pid, signal.SIGKILL)
                _wait_group_gone(self.proc.pid)
            self.proc = None


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover
        return True
    return True


def _wait_group_gone(pgid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while _group_alive(pgid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _parent_death_signal():
    """A preexec_fn for the worker: SIGTERM when pytest dies (even by SIGKILL or a timeout), so no
    orphaned worker keeps the test database open or takes the next run's tasks (Linux; elsewhere
    None). prctl is looked up here, in the parent: the forked child only calls it."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    pr_set_pdeathsig = 1
    return lambda: prctl(pr_set_pdeathsig, signal.SIGTERM)


_terminate_with_parent = _parent_death_signal()


@pytest.fixture(scope="session")
def celery_app_configured():
    from tests.celery_app import app

    app.control.purge()
    return app


@pytest.fixture
def worker_factory(django_db_setup, celery_app_configured):
    from django.db import connection

    workers: list[Worker] = []

    def make(**kwargs) -> Worker:
        w = Worker(connection.settings_dict["NAME"], **kwargs)
        workers.append(w)
        return w

    yield make
    for w in workers:
        w.stop()
    celery_app_configured.control.purge()
