"""FCM topic sync through the whole pipeline, against the fake Instance ID service (TLS + HTTP/2).

Subscriptions change through the API and the ORM; the sync runs on commit (inline: no broker here,
the same function Celery's ``django_push.sync_fcm_topics`` runs); the fake holds each topic's members
(bench/fakepush_dwp.py), so the test compares FCM's side with the database.
"""

from __future__ import annotations

import copy
import tempfile

import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone

pytest.importorskip("google.auth")  # the "fcm" extra

from bench.fakepush import FakePushService
from bench.fakepush_dwp import state, topic_members
from bench.run import credentials
from bench.run import push_settings as bench_push_settings
from django_push.dispatch import topic_sync
from django_push.models import Device, FCMTopicChange, Subscription, Topic
from django_push.results import SendResult

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def creds():
    with tempfile.TemporaryDirectory() as workdir:
        return credentials(workdir)


@pytest.fixture
def service():
    with FakePushService(latency=0.005) as svc:
        yield svc


@pytest.fixture
def synced(service, creds):
    push = copy.deepcopy(bench_push_settings(service.url, service.ca_file, creds))
    push["BACKENDS"]["fcm"]["OPTIONS"]["iid_url"] = service.url + "/iid/v1"
    conf = {**push, "USE_CELERY": False, "FCM_TOPIC_SYNC": True, "RETRY_BACKOFF_BASE": 60.0}
    with override_settings(DJANGO_PUSH=conf):
        yield service


def fcm_device(token: str) -> Device:
    return Device.objects.create(platform="fcm", address=token)


@pytest.mark.urls("tests.e2e.webpush_urls")  # the device API under /api/push/
def test_subscribe_and_unsubscribe_through_the_api_follow_in_fcm(synced, django_user_model, client):
    user = django_user_model.objects.create_user("ann", password="pw-ann-12345")
    client.force_login(user)
    Topic.objects.create(name="scores")
    device = Device.objects.create(platform="fcm", address="tok-ann", owner=user)
    url = f"/api/push/devices/{device.public_id}/topics/"
    assert client.post(url, {"topic": "scores"}, content_type="application/json").status_code == 201
    assert topic_members(synced.stats) == {"scores": {"tok-ann"}}
    assert not FCMTopicChange.objects.exists()  # applied, so gone from the ledger
    assert client.delete(url + "scores/").status_code == 204
    assert topic_members(synced.stats) == {"scores": set()}
    assert state(synced.stats).iid_calls == [("batchAdd", "scores", 1), ("batchRemove", "scores", 1)]
    assert state(synced.stats).protocols == {"h2"}  # over TLS + HTTP/2, on the FCM backend's transport


def test_a_batch_with_an_unregistered_and_a_malformed_token(synced):
    topic = Topic.objects.create(name="news")
    devices = [fcm_device(t) for t in ("tok-1", "dead-2", "bad-3", "tok-4")]
    Subscription.objects.bulk_create([Subscription(device=d, topic=topic) for d in devices])
    assert topic_sync.repair() == 4
    assert state(synced.stats).iid_calls == [("batchAdd", "news", 4)]  # one call for the batch
    assert topic_members(synced.stats)["news"] == {"tok-1", "tok-4"}
    dead = Device.objects.get(address="dead-2")
    assert not dead.active and "NOT_FOUND" in dead.deactivation_reason
    (failed,) = FCMTopicChange.objects.all()
    assert (failed.address, failed.status, failed.error_code) == ("bad-3", "failed", "INVALID_ARGUMENT")
    assert Device.objects.get(address="bad-3").active  # recorded, not deactivated


def test_a_token_fcm_cannot_take_now_is_retried_later_with_backoff(synced):
    topic = Topic.objects.create(name="news")
    Subscription.objects.create(device=fcm_device("flaky-1"), topic=topic)
    (change,) = FCMTopicChange.objects.all()
    assert (change.status, change.attempts, change.error_code) == ("pending", 1, "INTERNAL")
    assert change.next_attempt_at > change.created_at  # due again later, not lost


def test_repair_after_drift_restores_fcm_membership(synced):
    topic = Topic.objects.create(name="weather")
    on, off = fcm_device("tok-on"), fcm_device("tok-off")
    with override_settings(DJANGO_PUSH={**settings.DJANGO_PUSH, "FCM_TOPIC_SYNC": False}):
        Subscription.objects.create(device=on, topic=topic)  # made while the sync was off
    Subscription.objects.create(device=off, topic=topic)
    assert topic_members(synced.stats)["weather"] == {"tok-off"}
    Device.objects.filter(pk=off.pk).update(active=False)  # deactivated by a cleanup, not by FCM
    topic_sync.repair()
    assert topic_members(synced.stats)["weather"] == {"tok-on"}
    assert not FCMTopicChange.objects.exists()


def test_the_sync_command_reports_and_refuses_when_off(synced):
    from io import StringIO

    from django.core.management import CommandError, call_command

    topic = Topic.objects.create(name="news")
    Subscription.objects.bulk_create([Subscription(device=fcm_device("tok-9"), topic=topic)])
    out = StringIO()
    call_command("syncfcmtopics", "--repair", stdout=out)
    assert "recorded 1" in out.getvalue() and "applied 1; 0 pending" in out.getvalue()
    assert topic_members(synced.stats)["news"] == {"tok-9"}
    with (
        override_settings(DJANGO_PUSH={"FCM_TOPIC_SYNC": False}),
        pytest.raises(CommandError, match="FCM_TOPIC_SYNC"),
    ):
        call_command("syncfcmtopics")


def test_retries_run_out_into_failed_with_the_reason(synced):
    topic = Topic.objects.create(name="news")
    Subscription.objects.create(device=fcm_device("flaky-2"), topic=topic)  # first attempt: INTERNAL
    FCMTopicChange.objects.update(attempts=topic_sync.MAX_SYNC_ATTEMPTS - 1, next_attempt_at=timezone.now())
    assert topic_sync.sync_pending() == 0
    (change,) = FCMTopicChange.objects.all()
    assert (change.status, change.attempts, change.error_code) == ("failed", 8, "INTERNAL")


def test_a_change_overwritten_while_in_flight_is_not_deleted(synced):
    topic = Topic.objects.create(name="news")
    device = fcm_device("tok-race")
    Subscription.objects.bulk_create([Subscription(device=device, topic=topic)])
    topic_sync.record(device, "news", "add", schedule=False)
    (read,) = FCMTopicChange.objects.all()
    topic_sync.record(device, "news", "remove", schedule=False)  # the user unsubscribed meanwhile
    topic_sync._apply([read], [SendResult.sent()], timezone.now())
    (left,) = FCMTopicChange.objects.all()
    assert (left.action, left.status) == ("remove", "pending")  # the newer intent survives
