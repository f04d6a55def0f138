"""Dispatch through a real Celery worker on PostgreSQL + Redis."""

from __future__ import annotations

import json
import time

import pytest
from django.db import transaction

from django_push import dispatch
from django_push.models import Delivery, Device, Notification, address_hash

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

DUMMY = {"BACKEND": "django_push.backends.dummy.DummyBackend"}


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met in {timeout}s")


def test_database_is_postgresql():
    from django.db import connection

    assert connection.vendor == "postgresql"


def test_broadcast_fans_out_to_worker_chunks(worker_factory, settings):
    push = {"BACKENDS": {"apns": DUMMY, "fcm": DUMMY, "webpush": DUMMY}, "CHUNK_SIZE": 50}
    settings.DJANGO_PUSH = push
    worker = worker_factory(extra_env={"DJANGO_PUSH_TEST_SETTINGS_JSON": json.dumps(push)})
    worker.start()
    Device.objects.bulk_create(
        [
            Device(platform="fcm", address=f"tok-{i}", address_hash=address_hash(f"tok-{i}"))
            for i in range(500)
        ]
    )
    with transaction.atomic():
        n = dispatch.notify(title="hello", audience={"all": True})
    done = wait_for(lambda: Notification.objects.filter(pk=n.pk, status="done").first())
    assert (done.targeted, done.sent, done.failed) == (500, 500, 0)
    assert Delivery.objects.filter(notification=n, status="sent").count() == 500
    assert Delivery.objects.filter(notification=n, attempts=1).count() == 500
