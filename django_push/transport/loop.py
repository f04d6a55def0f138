"""One asyncio event loop per process, in a daemon thread, that every backend's sync façade uses.

Why: HTTP/2 connections live on an event loop. ``asyncio.run()`` per send would open and close them
every time; a process-wide loop keeps them (and the cached credentials) alive across Celery tasks, so
every chunk a worker process handles shares one set of connections. The loop is recreated after a
fork (Celery's prefork pool), because a forked child does not inherit the parent's threads.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_pid: int | None = None


def get_loop() -> asyncio.AbstractEventLoop:
    """The process's push loop, started on first use (and again in a forked child)."""
    global _loop, _pid
    with _lock:
        if _loop is None or _pid != os.getpid() or _loop.is_closed():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="django-push-loop", daemon=True)
            thread.start()
            _loop, _pid = loop, os.getpid()
        return _loop


def run(coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
    """Run ``coro`` on the push loop and wait for it from synchronous code."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        coro.close()
        raise RuntimeError(
            "A backend's synchronous send() was called from a running event loop; await asend() instead."
        )
    return asyncio.run_coroutine_threadsafe(coro, get_loop()).result(timeout)


def run_soon(coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
    """Start ``coro`` on the push loop and return at once with a future for its result."""
    return asyncio.run_coroutine_threadsafe(coro, get_loop())


def on_push_loop() -> bool:
    """Whether the caller runs on the push loop's thread."""
    try:
        return asyncio.get_running_loop() is _loop
    except RuntimeError:
        return False
