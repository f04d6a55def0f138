"""The FCM topic-sync ledger: what a Subscription change records, before anything is sent."""

from __future__ import annotations

import pytest

from django_push.dispatch import topic_sync
from django_push.models import FCMTopicChange, Subscription

from ..factories import DeviceFactory, TopicFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sync_on(push_conf):
    push_conf(FCM_TOPIC_SYNC=True)


def test_off_by_default_nothing_is_recorded():
    device, topic = DeviceFactory(platform="fcm", address="tok-a"), TopicFactory(name="news")
    Subscription.objects.create(device=device, topic=topic)
    assert not FCMTopicChange.objects.exists()


def test_subscribe_records_an_add_for_fcm_devices_only(sync_on):
    topic = TopicFactory(name="news")
    Subscription.objects.create(device=DeviceFactory(platform="fcm", address="tok-a"), topic=topic)
    Subscription.objects.create(device=DeviceFactory(platform="apns"), topic=topic)
    (change,) = FCMTopicChange.objects.all()
    assert (change.topic, change.address, change.action, change.status) == ("news", "tok-a", "add", "pending")


def test_the_latest_intent_wins_one_row_per_token_and_topic(sync_on):
    device, topic = DeviceFactory(platform="fcm", address="tok-a"), TopicFactory(name="news")
    Subscription.objects.create(device=device, topic=topic)
    Subscription.objects.filter(device=device, topic=topic).delete()
    (change,) = FCMTopicChange.objects.all()
    assert change.action == "remove" and change.version == 1


def test_deleting_the_device_records_the_removal(sync_on):
    device, topic = DeviceFactory(platform="fcm", address="tok-a"), TopicFactory(name="news")
    Subscription.objects.create(device=device, topic=topic)
    device.delete()
    (change,) = FCMTopicChange.objects.all()
    assert (change.action, change.address) == ("remove", "tok-a")


def test_repair_records_add_for_active_and_remove_for_inactive_devices(sync_on):
    topic = TopicFactory(name="news")
    active = DeviceFactory(platform="fcm", address="tok-on")
    inactive = DeviceFactory(platform="fcm", address="tok-off", active=False)
    Subscription.objects.bulk_create(  # bulk_create sends no signal: drift the repair must find
        [Subscription(device=active, topic=topic), Subscription(device=inactive, topic=topic)]
    )
    assert not FCMTopicChange.objects.exists()
    assert topic_sync.repair(run=False) == 2
    assert dict(FCMTopicChange.objects.values_list("address", "action")) == {
        "tok-on": "add",
        "tok-off": "remove",
    }


def test_system_checks_name_the_setting(settings):
    from django_push.checks_topic_sync import check_topic_sync

    settings.DJANGO_PUSH = {"FCM_TOPIC_SYNC": "yes"}
    (error,) = check_topic_sync()
    assert error.id == "django_push.E030" and 'DJANGO_PUSH["FCM_TOPIC_SYNC"]' in error.msg
    settings.DJANGO_PUSH = {"FCM_TOPIC_SYNC": True, "BACKENDS": {}}
    (warning,) = check_topic_sync()
    assert warning.id == "django_push.W030" and "FCMBackend" in warning.hint
    settings.DJANGO_PUSH = {"FCM_TOPIC_SYNC": False}
    assert check_topic_sync() == []


def test_with_celery_the_sync_is_a_task_sent_on_commit(
    sync_on, push_conf, monkeypatch, django_capture_on_commit_callbacks
):
    celery = pytest.importorskip("celery")
    import django_push.tasks  # noqa: F401 - registers the shared tasks

    push_conf(FCM_TOPIC_SYNC=True, USE_CELERY=True)
    sent: list[str] = []
    monkeypatch.setattr(celery.current_app, "send_task", lambda name, **kw: sent.append(name))
    with django_capture_on_commit_callbacks(execute=True):
        Subscription.objects.create(
            device=DeviceFactory(platform="fcm", address="tok-a"), topic=TopicFactory()
        )
    assert sent == [topic_sync.SYNC_TASK]
    assert topic_sync.SYNC_TASK in celery.current_app.tasks  # a worker knows the name
    assert "django_push.repair_fcm_topics" in celery.current_app.tasks


def test_without_topic_sync_subscription_deletes_stay_fast(push_conf):
    from django.db.models.signals import post_save, pre_delete

    push_conf(FCM_TOPIC_SYNC=False)
    assert not pre_delete.has_listeners(Subscription) and not post_save.has_listeners(Subscription)
    push_conf(FCM_TOPIC_SYNC=True)
    assert pre_delete.has_listeners(Subscription) and post_save.has_listeners(Subscription)
