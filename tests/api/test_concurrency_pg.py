"""Concurrent identical registrations on PostgreSQL: one row, exactly one 201, no 500.

Collected only with DJANGO_PUSH_TEST_SERVICES=1 (see tests/api/conftest.py): SQLite serializes writers,
so only a real server shows whether the upsert survives racing INSERTs on the unique constraint.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections
from rest_framework.test import APIClient

from django_push.models import Device

from ..factories import UserFactory
from .conftest import API, APNS_TOKEN, ENDPOINT, subscription

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

CONCURRENCY = 20


def _race(user, url: str, body: dict) -> list[int]:
    barrier = threading.Barrier(CONCURRENCY)

    def post(_: int) -> int:
        client = APIClient()
        client.force_authenticate(user)
        try:
            barrier.wait(timeout=30)
            return client.post(url, body, format="json").status_code
        finally:
            connections.close_all()  # this thread's connection, so the test database can be dropped

    with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
        return list(pool.map(post, range(CONCURRENCY)))


def test_postgresql_is_in_use():
    assert connection.vendor == "postgresql"


def test_concurrent_identical_registrations_make_one_row():
    user = UserFactory()
    statuses = _race(user, API + "devices/", {"platform": "apns", "token": APNS_TOKEN, "name": "iPhone"})
    assert sorted(set(statuses)) == [200, 201], statuses
    assert statuses.count(201) == 1
    assert Device.objects.filter(address=APNS_TOKEN).count() == 1
    assert Device.objects.get().owner == user


def test_concurrent_identical_web_push_subscriptions_make_one_row():
    user = UserFactory()
    statuses = _race(user, API + "webpush/subscribe/", subscription())
    assert statuses.count(201) == 1
    assert statuses.count(200) == CONCURRENCY - 1
    assert Device.objects.filter(platform="webpush", address=ENDPOINT).count() == 1
