"""Testing helpers for sites that use django_push.

* :data:`outbox`: every push the ``locmem`` backend sent, as :class:`OutboxEntry`.
* :func:`override_push_backends`: route every platform to ``locmem`` (or another backend).
* :func:`script_outcome`: make the next push(es) to a token fail the way a service would.
* pytest fixtures ``push_outbox`` and ``push_backends`` (add ``django_push.testing`` to
  ``pytest_plugins`` or import them in your conftest).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.test.utils import override_settings

from .message import PushMessage, Target
from .results import DeliveryStatus, SendResult

LOCMEM = "django_push.backends.locmem.LocmemBackend"


@dataclass(frozen=True)
class OutboxEntry:
    platform: str
    application: str
    message: PushMessage
    target: Target
    result: SendResult


outbox: list[OutboxEntry] = []
_outcomes: dict[str, deque[SendResult]] = {}
_lock = threading.Lock()


def _as_result(outcome: SendResult | DeliveryStatus | str) -> SendResult:
    if isinstance(outcome, SendResult):
        return outcome
    status = DeliveryStatus(outcome)
    if status == DeliveryStatus.SENT:
        return SendResult.sent("locmem")
    return SendResult(status, error_code=f"scripted_{status.value}", reason="scripted outcome")


def script_outcome(address: str, *outcomes: SendResult | DeliveryStatus | str) -> None:
    """Queue outcomes for the next sends to ``address`` (a token or endpoint); then SENT again."""
    with _lock:
        _outcomes.setdefault(address, deque()).extend(_as_result(o) for o in outcomes)


def next_outcome(address: str, static: dict[str, Any] | None = None) -> SendResult:
    with _lock:
        queued = _outcomes.get(address)
        if queued:
            return queued.popleft()
    if static and address in static:
        return _as_result(static[address])
    return SendResult.sent("locmem")


def reset() -> None:
    """Empty the outbox and forget scripted outcomes."""
    with _lock:
        outbox.clear()
        _outcomes.clear()
    from .handler import backends

    backends.reset()


@contextmanager
def override_push_backends(backend: str = LOCMEM, **extra: Any) -> Iterator[list[OutboxEntry]]:
    """Route apns, fcm and webpush to ``backend`` (locmem by default) and yield the outbox.

    Other DJANGO_PUSH settings are kept; ``extra`` overrides top-level keys (e.g. CHUNK_SIZE=10).
    """
    from django.conf import settings

    current = dict(getattr(settings, "DJANGO_PUSH", {}))
    current["BACKENDS"] = {p: {"BACKEND": backend} for p in ("apns", "fcm", "webpush")}
    current.update(extra)
    reset()
    with override_settings(DJANGO_PUSH=current):
        try:
            yield outbox
        finally:
            reset()


try:  # pytest fixtures, without making pytest a dependency
    import pytest
except ImportError:  # pragma: no cover
    pass
else:

    @pytest.fixture
    def push_outbox() -> Iterator[list[OutboxEntry]]:
        """The locmem outbox, with every platform routed to locmem for the test."""
        with override_push_backends() as box:
            yield box

    push_backends = push_outbox
