"""Fixtures for the device API tests: a urlconf that mounts the API, isolated throttle state, clients."""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest

pytest.importorskip("rest_framework")  # the "api" extra (see tests/conftest.py)

from django.core.cache.backends.locmem import LocMemCache

from django_push.api.throttling import RegistrationThrottle

# Needs PostgreSQL (real row locks and a concurrent unique index): only with the services suite.
collect_ignore: list[str] = []
if os.environ.get("DJANGO_PUSH_TEST_SERVICES") != "1":
    collect_ignore.append("test_concurrency_pg.py")

API = "/api/push/"
P256DH = "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM"
AUTH = "tBHItJI5svbpez7KI4CCXg"
APNS_TOKEN = "ab" * 32
FCM_TOKEN = "dTTnTmfj5Ek:APA91bGt0Lz3Gk_4-ZTKdSbhUDs0SkVb9RGvxqJzHFb2bOoMuDXQ0AeyQ6yXNjmL3e1XrgWiAs"
ENDPOINT = "https://fcm.googleapis.com/fcm/send/dTTnTmfj5Ek:APA91bGt0Lz3Gk"


def subscription(endpoint: str = ENDPOINT, p256dh: str = P256DH, auth: str = AUTH) -> dict[str, Any]:
    """What a browser's ``PushSubscription.toJSON()`` gives."""
    return {"endpoint": endpoint, "expirationTime": None, "keys": {"p256dh": p256dh, "auth": auth}}


@pytest.fixture(autouse=True)
def _api_urls(settings: Any) -> None:
    settings.ROOT_URLCONF = "tests.api.urls"


@pytest.fixture(autouse=True)
def _fresh_throttle_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with an empty throttle history, without touching the shared cache (Redis in
    the services suite, where other tests may be using it)."""
    # LocMemCache shares storage by name, so each test gets a name of its own.
    monkeypatch.setattr(RegistrationThrottle, "cache", LocMemCache(f"django-push-api-{uuid.uuid4()}", {}))
