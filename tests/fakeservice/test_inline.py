"""Dispatch through the real APNs backend and the local fake push service, in-process (no worker)."""

from __future__ import annotations

import pytest
from django.test import override_settings

from bench.fakepush import FakePushService
from django_push import dispatch
from django_push.backends.apns_tokens import jwt_mint_count, provider_tokens
from django_push.message import PushMessage
from django_push.models import Delivery, Device, address_hash

from ..integration.test_fake_service_broadcast import apns_settings

pytestmark = pytest.mark.django_db(transaction=True)


def test_faults_converge_to_one_accepted_push_per_live_device():
    with FakePushService(latency=0.005, fault_rate=0.2, seed=3, fault_attempts=3) as service:
        # In-process even when the services suite has a broker configured: retries run here.
        push = apns_settings(
            service,
            RETRY_BACKOFF_BASE=0.05,
            RETRY_BACKOFF_MAX=1.0,
            EAGER_RETRY_MAX_WAIT=5.0,
            USE_CELERY=False,
        )
        with override_settings(DJANGO_PUSH=push):
            tokens = [f"{i:064x}" for i in range(900)] + [f"dead{i:060x}" for i in range(100)]
            devices = Device.objects.bulk_create(
                [Device(platform="apns", address=t, address_hash=address_hash(t)) for t in tokens]
            )
            n = dispatch.send_message(PushMessage(title="hi"), devices)
        accepted = dict(service.accepted)
        shown = dict(service.shown)
        faults = dict(service.stats.faults)
    summary = list(Delivery.objects.filter(notification=n).values_list("status", "error_code").distinct())
    assert (n.sent, n.invalid, n.failed, n.status) == (900, 100, 0, "done"), summary
    live = tokens[:900]
    assert all(accepted.get(t, 0) >= 1 for t in live)
    # The fake is honest: a reset takes its in-flight streams with it, some already delivered. Those
    # resends are the only duplicates, each flagged ambiguous, and each carried the notification's
    # collapse id, so every device shows the push once.
    duplicated = {t for t in live if accepted[t] > 1}
    flagged = set(
        Delivery.objects.filter(notification=n, ambiguous_retry=True).values_list(
            "device__address", flat=True
        )
    )
    assert duplicated <= flagged
    assert len(duplicated) <= 135, len(duplicated)
    assert all(shown.get(t) == 1 for t in live), [shown.get(t) for t in live if shown.get(t) != 1][:5]
    assert set(faults) >= {"429", "500", "503", "goaway", "reset"}, faults
    assert Device.objects.filter(active=False).count() == 100


def test_1000_apns_pushes_mint_one_jwt_and_reuse_connections():
    provider_tokens.clear()
    before = jwt_mint_count()
    with FakePushService() as service:
        with override_settings(DJANGO_PUSH=apns_settings(service, USE_CELERY=False)):
            tokens = [f"{i:064x}" for i in range(1000)]
            devices = Device.objects.bulk_create(
                [Device(platform="apns", address=t, address_hash=address_hash(t)) for t in tokens]
            )
            n1 = dispatch.send_message(PushMessage(title="one"), devices[:500])
            n2 = dispatch.send_message(PushMessage(title="two"), devices[500:])
        stats = service.stats.as_dict()
    assert n1.sent + n2.sent == 1000
    assert jwt_mint_count() - before == 1
    assert stats["jwts_seen"] == 1
    assert stats["connections_opened"] <= 4  # the backend's pool, reused by both sends
