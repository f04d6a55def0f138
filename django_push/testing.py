"""Testing helpers for sites that use django_push.

* :data:`outbox`: every push the ``locmem`` backend sent, as :class:`OutboxEntry`.
* :func:`override_push_backends`: route every platform to ``locmem`` (or another backend).
* :func:`script_outcome`: make the next push(es) to a token fail the way a service would.
* pytest fixtures ``push_outbox`` and ``push_backends`` (add ``django_push.testing`` to
  ``pytest_plugins`` or import them in your conftest).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.test.utils import override_settings

from django_push.backends import locmem
from django_push.backends.apns_channels import local_channels
from django_push.backends.locmem import OutboxEntry, next_outcome, outbox, script_outcome
from django_push.conf import push_settings
from django_push.handler import backends

__all__ = ["OutboxEntry", "next_outcome", "outbox", "override_push_backends", "reset", "script_outcome"]

LOCMEM = "django_push.backends.locmem.LocmemBackend"


def reset() -> None:
    """Empty the outbox, forget scripted outcomes and the generic backends' broadcast channels."""
    locmem.clear()
    local_channels.clear()
    backends.reset()


@contextmanager
def override_push_backends(backend: str = LOCMEM, **extra: Any) -> Iterator[list[OutboxEntry]]:
    """Route apns, fcm and webpush to ``backend`` (locmem by default) and yield the outbox.

    Other DJANGO_PUSH settings are kept; ``extra`` overrides top-level keys (e.g. CHUNK_SIZE=10).
    """
    current = dict(push_settings.user_settings)
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
