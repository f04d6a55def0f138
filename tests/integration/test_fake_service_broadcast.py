"""Broadcasts through a real Celery worker and the local fake push service (real TLS + HTTP/2).

These are the end-to-end proofs of the delivery guarantees (docs/delivery-guarantees.md). The fake is
honest: a reset connection takes its in-flight streams with it, some of them already delivered, as
real services do. So: transient faults converge to at least one delivered push per live device, the
only duplicates are deliveries flagged ``ambiguous_retry``, and every one was collapse-keyed, so each
device shows the notification once; dead tokens are deactivated; a worker killed with SIGKILL
mid-broadcast (Celery's defaults, Redis broker) loses nothing, recovered by the ledger and send_due.
"""

from __future__ import annotations

import json
import threading

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.db import transaction

from bench.fakepush import FakePushService
from django_push import dispatch
from django_push.models import Delivery, Device, Notification, address_hash

from .test_worker import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def apns_settings(service: FakePushService, **extra) -> dict:
    key = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        .decode()
    )
    return {
        "BACKENDS": {
            "apns": {
                "BACKEND": "django_push.backends.apns.APNsBackend",
                "OPTIONS": {
                    "team_id": "TEAM123456",
                    "key_id": "KEY1234567",
                    "key": key,
                    "topic": "com.example.app",
                    "production_url": service.url,
                    "sandbox_url": service.url,
                    "verify": service.ca_file,
                },
            },
        },
        "RETRY_BACKOFF_BASE": 0.2,
        "RETRY_BACKOFF_MAX": 2.0,
        "MAX_ATTEMPTS": 10,
        **extra,
    }


def make_devices(live: int, dead: int = 0) -> tuple[list[str], list[str]]:
    live_tokens = [f"{i:064x}" for i in range(live)]
    dead_tokens = [f"dead{i:060x}" for i in range(dead)]
    Device.objects.bulk_create(
        [Device(platform="apns", address=t, address_hash=address_hash(t)) for t in live_tokens + dead_tokens]
    )
    return live_tokens, dead_tokens


def outcome_summary(n: Notification) -> list[tuple]:
    from django.db.models import Count

    return list(
        Delivery.objects.filter(notification=n)
        .values_list("status", "error_code", "reason")
        .annotate(c=Count("id"))
        .order_by("-c")[:8]
    )


def broadcast() -> Notification:
    with transaction.atomic():
        return dispatch.notify(title="Hello", body="everyone", audience={"all": True})


def test_5000_devices_with_20_percent_transient_faults(worker_factory, settings):
    with FakePushService(
        latency=0.01, fault_rate=0.2, seed=7, faults=("429", "500", "503", "goaway", "reset")
    ) as service:
        push = apns_settings(service, CHUNK_SIZE=500)
        settings.DJANGO_PUSH = push
        worker_factory(extra_env={"DJANGO_PUSH_TEST_SETTINGS_JSON": json.dumps(push)}).start()
        live, dead = make_devices(4500, 500)
        n = broadcast()
        n = wait_for(
            lambda: Notification.objects.filter(pk=n.pk, status__in=["done", "failed"]).first(), timeout=240
        )
        accepted = dict(service.accepted)
        shown = dict(service.shown)

    assert (n.status, n.targeted, n.sent, n.invalid, n.failed) == ("done", 5000, 4500, 500, 0), (
        outcome_summary(n)
    )
    assert all(accepted.get(t, 0) >= 1 for t in live), "a device was missed"
    duplicated = {t for t in live if accepted[t] > 1}
    flagged = set(
        Delivery.objects.filter(notification=n, ambiguous_retry=True).values_list(
            "device__address", flat=True
        )
    )
    assert duplicated <= flagged, "a duplicate that dispatch did not flag"
    assert len(duplicated) <= 500, len(duplicated)  # 10 % of the devices at most
    assert all(shown.get(t) == 1 for t in live), "a device showed a duplicate: not collapse-keyed"
    print(f"\n20 % faults: {len(duplicated)} duplicates, all flagged and collapse-keyed")
    assert not any(accepted.get(t) for t in dead)
    assert Device.objects.filter(address__startswith="dead", active=False).count() == 500
    assert Device.objects.filter(active=True).count() == 4500
    retried = Delivery.objects.filter(notification=n, status="sent", attempts__gt=1).count()
    assert retried > 300  # the faults really happened and were retried
    # A flag is only ever set on a delivery that was in fact sent again.
    assert not Delivery.objects.filter(notification=n, ambiguous_retry=True, attempts__lt=2).exists()


def test_worker_killed_mid_broadcast_loses_nothing(worker_factory, settings):
    """5,000 devices, django_push's and Celery's defaults on Redis (no visibility-timeout tuning): the
    worker is SIGKILLed mid-broadcast with chunks in flight and prefetched; a new worker and the sweep
    (``sendduepush --every 5``) finish it with nobody missed, within two minutes of the restart."""
    import time

    with FakePushService(latency=0.3, fault_rate=0.0) as service:
        push = apns_settings(service)
        push.pop("MAX_ATTEMPTS")
        settings.DJANGO_PUSH = push
        env = {"DJANGO_PUSH_TEST_SETTINGS_JSON": json.dumps(push)}
        first = worker_factory(extra_env=env, concurrency=2)
        first.start()
        live, _ = make_devices(5000)
        n = broadcast()
        wait_for(
            lambda: Delivery.objects.filter(notification=n, status="sent").count() >= 1200,
            timeout=120,
            interval=0.02,
        )
        first.kill()
        sent_at_kill = Delivery.objects.filter(notification=n, status="sent").count()
        in_flight_at_kill = Delivery.objects.filter(notification=n).exclude(claim="").count()
        assert sent_at_kill < 5000, "the broadcast finished before the kill; make it slower"
        worker_factory(extra_env=env, concurrency=2).start()
        restarted = time.monotonic()

        def sweep():  # what `manage.py sendduepush --every 5` (or beat) does
            dispatch.send_due()
            return Notification.objects.filter(pk=n.pk, status="done").first()

        n = wait_for(sweep, timeout=180, interval=5.0)
        recovered_in = time.monotonic() - restarted
        accepted = dict(service.accepted)
        shown = dict(service.shown)

    assert (n.sent, n.targeted) == (5000, 5000)
    assert all(accepted.get(t, 0) >= 1 for t in live), "a device was missed"
    duplicated = {t for t in live if accepted.get(t, 0) > 1}
    ambiguous = set(
        Delivery.objects.filter(notification=n, ambiguous_retry=True).values_list(
            "device__address", flat=True
        )
    )
    assert duplicated <= ambiguous, "a duplicate that dispatch did not flag"
    assert len(duplicated) <= in_flight_at_kill, (len(duplicated), in_flight_at_kill)
    assert all(shown.get(t) == 1 for t in live), "a duplicate the device would show twice"
    assert recovered_in < 120, recovered_in
    print(
        f"\nSIGKILL at {sent_at_kill} sent, {in_flight_at_kill} in flight: done {recovered_in:.0f} s "
        f"after the restart; {len(duplicated)} devices received the push twice, flagged, collapse-keyed"
    )
    assert max(accepted.values()) <= 2


def test_devices_reregistering_during_a_broadcast(worker_factory, settings):
    with FakePushService(latency=0.2) as service:
        push = apns_settings(service, CHUNK_SIZE=100)
        settings.DJANGO_PUSH = push
        worker_factory(extra_env={"DJANGO_PUSH_TEST_SETTINGS_JSON": json.dumps(push)}).start()
        live, _ = make_devices(2000)
        n = broadcast()
        stop = threading.Event()
        renamed: list[int] = []

        def reregister():
            from django.db import connection
            from django.utils import timezone

            i = 0
            try:
                while not stop.is_set() and i < 400:
                    d = Device.objects.filter(address=live[i * 5]).first()
                    d.name, d.registered_at = f"phone {i}", timezone.now()
                    d.save(update_fields=["name", "registered_at", "updated_at"])
                    renamed.append(d.pk)
                    i += 1
            finally:
                connection.close()  # this thread's, even when it fails: else the database stays open

        thread = threading.Thread(target=reregister)
        thread.start()
        try:
            n = wait_for(lambda: Notification.objects.filter(pk=n.pk, status="done").first(), timeout=180)
        finally:
            stop.set()
            thread.join()
        accepted = dict(service.accepted)
    assert renamed and n.sent == 2000
    assert all(accepted.get(t) == 1 for t in live)
    assert Delivery.objects.filter(notification=n).count() == 2000
