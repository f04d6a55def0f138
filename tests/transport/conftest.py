"""``DJANGO_PUSH_TEST_H2_LIBRARY=jh2 pytest tests/transport`` runs every transport built here on that
HTTP/2 library (the tests parametrized with ``h2_library`` run on each installed one regardless)."""

from __future__ import annotations

import os

import pytest

from django_push.transport.h2 import H2Transport

from . import test_h2transport

LIBRARY = os.environ.get("DJANGO_PUSH_TEST_H2_LIBRARY", "")


@pytest.fixture(autouse=True)
def _h2_library_from_the_environment(monkeypatch):
    if LIBRARY:
        defaults = dict(H2Transport.__init__.__kwdefaults__ or {})
        defaults["h2_library"] = LIBRARY
        monkeypatch.setattr(H2Transport.__init__, "__kwdefaults__", defaults)
        monkeypatch.setitem(test_h2transport._library, "name", LIBRARY)
        assert H2Transport().h2_backend == LIBRARY
    yield
