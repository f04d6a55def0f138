"""A topic audience's FCM devices as ONE FCM topic send (``fcm_delivery="fcm_topic"``), end to end:
subscriptions synced to the fake Instance ID service, then the notification planned as usual."""

from __future__ import annotations

import copy
import tempfile

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings

pytest.importorskip("google.auth")  # the "fcm" extra

from bench.fakepush import FakePushService
from bench.fakepush_dwp import state, topic_received, topic_sends
from bench.run import credentials
from bench.run import push_settings as bench_push_settings
from django_push import dispatch
from django_push.message import PushMessage
from django_push.models import Delivery, Device, Notification, Subscription, Topic

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def creds():
    with tempfile.TemporaryDirectory() as workdir:
        return credentials(workdir)


@pytest.fixture
def synced(creds):
    with FakePushService(latency=0.005) as service:
        push = copy.deepcopy(bench_push_settings(service.url, service.ca_file, creds))
        push["BACKENDS"]["fcm"]["OPTIONS"]["iid_url"] = service.url + "/iid/v1"
        with override_settings(DJANGO_PUSH={**push, "USE_CELERY": False, "FCM_TOPIC_SYNC": True}):
            yield service


def subscribe(topic: Topic, platform: str, address: str) -> Device:
    device = Device.objects.create(platform=platform, address=address)
    Subscription.objects.create(device=device, topic=topic)  # FCM ones are synced on commit
    return device


def test_one_topic_send_for_the_fcm_devices_and_per_device_for_the_rest(synced):
    scores = Topic.objects.create(name="scores")
    fcm = [subscribe(scores, "fcm", f"tok-{i}") for i in range(5)]
    apns = subscribe(scores, "apns", "a" * 64)
    notification = dispatch.notify(
        audience={"topics": ["scores"]},
        message=PushMessage(title="Goal!", body="2-1"),
        fcm_delivery="fcm_topic",
    )  # autocommit: planned and sent inline at once
    notification.refresh_from_db()
    assert topic_sends(synced.stats) == [("scores", 5)]  # one request reached the five
    assert state(synced.stats).protocols == {"h2"}
    assert topic_received(synced.stats) == {d.address: 1 for d in fcm}
    assert list(Delivery.objects.filter(notification=notification).values_list("device_id", "status")) == [
        (apns.pk, "sent")
    ]  # per-device records only for the other platforms
    result = notification.fcm_topic_result["default"]
    assert (result["status"], result["topic"]) == ("sent", "scores")
    assert result["message_id"].startswith("projects/bench/messages/")
    assert (notification.status, notification.targeted, notification.sent) == ("done", 1, 1)


def test_several_topics_go_as_one_condition_and_reach_each_device_once(synced):
    a, b = Topic.objects.create(name="a"), Topic.objects.create(name="b")
    both = subscribe(a, "fcm", "tok-both")
    Subscription.objects.create(device=both, topic=b)
    subscribe(b, "fcm", "tok-b")
    notification = dispatch.notify(
        audience={"topics": ["a", "b"], "platforms": ["fcm"]},
        message=PushMessage(title="T"),
        fcm_delivery="fcm_topic",
    )
    notification.refresh_from_db()
    assert topic_sends(synced.stats) == [("'a' in topics || 'b' in topics", 2)]
    assert topic_received(synced.stats) == {"tok-both": 1, "tok-b": 1}
    assert not Delivery.objects.filter(notification=notification).exists()
    assert notification.status == "done" and notification.fcm_topic_result["default"]["status"] == "sent"


def test_a_topic_send_that_cannot_be_made_is_recorded_and_fails_the_notification(synced):
    Topic.objects.create(name="news")
    with override_settings(DJANGO_PUSH={"FCM_TOPIC_SYNC": True, "BACKENDS": {}, "USE_CELERY": False}):
        failed = dispatch.notify(
            audience={"topics": ["news"], "platforms": ["fcm"]},
            message=PushMessage(title="T"),
            fcm_delivery="fcm_topic",
        )
    failed.refresh_from_db()
    result = failed.fcm_topic_result["default"]
    assert (result["status"], result["error_code"]) == ("failed", "PushConfigurationError")
    assert "fcm" in result["reason"]
    assert failed.status == "failed"  # nothing was sent to anyone
    assert topic_sends(synced.stats) == []


@pytest.mark.parametrize(
    ("audience", "conf", "code"),
    [
        ({"topics": ["news"]}, {"FCM_TOPIC_SYNC": False}, "fcm_topic_sync_off"),
        ({"topics": ["news"], "users": [1]}, {"FCM_TOPIC_SYNC": True}, "fcm_topic_audience"),
        ({"all": True}, {"FCM_TOPIC_SYNC": True}, "fcm_topic_audience"),
        ({"topics": list("abcdef")}, {"FCM_TOPIC_SYNC": True}, "fcm_topic_count"),
        ({"topics": ["news"], "platforms": ["apns"]}, {"FCM_TOPIC_SYNC": True}, "fcm_topic_none"),
    ],
)
def test_an_audience_that_cannot_go_as_a_topic_send_is_refused_before_storing(audience, conf, code):
    with override_settings(DJANGO_PUSH=conf), pytest.raises(ValidationError) as caught:
        dispatch.create(audience=audience, message=PushMessage(title="T"), fcm_delivery="fcm_topic")
    assert caught.value.code == code
    assert not Notification.objects.exists()
