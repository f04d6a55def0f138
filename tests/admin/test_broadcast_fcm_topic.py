"""The composer's FCM delivery choice: the trade-off shown, the choice stored, bad choices refused."""

import pytest
from django.urls import reverse

from django_push.models import Notification

from .test_broadcast import COMPOSE, errors, post

pytestmark = pytest.mark.django_db


def test_the_choice_and_its_trade_off_are_on_the_compose_page(admin_client):
    html = admin_client.get(reverse(COMPOSE)).content.decode()
    assert 'name="fcm_delivery"' in html and 'value="fcm_topic"' in html
    assert "no per-device record" in html and "FCM_TOPIC_SYNC" in html


def test_a_topic_send_without_topic_sync_is_a_field_error(admin_client, news, push_conf):
    push_conf(FCM_TOPIC_SYNC=False)
    response = post(admin_client, step="_confirm", topics=["news"], fcm_delivery="fcm_topic")
    assert "FCM_TOPIC_SYNC" in " ".join(errors(response)["fcm_delivery"])


def test_a_topic_send_needs_a_topics_only_audience(admin_client, news, push_conf):
    push_conf(FCM_TOPIC_SYNC=True)
    response = post(admin_client, step="_confirm", everyone="on", fcm_delivery="fcm_topic")
    assert "topics only" in " ".join(errors(response)["fcm_delivery"])


def test_the_choice_is_stored_on_the_notification(
    admin_client, news, push_conf, django_capture_on_commit_callbacks
):
    push_conf(FCM_TOPIC_SYNC=True)
    with django_capture_on_commit_callbacks(execute=False):
        response = post(admin_client, step="_send", topics=["news"], fcm_delivery="fcm_topic")
    assert response.status_code == 302
    assert Notification.objects.get().fcm_delivery == "fcm_topic"


def test_per_device_stays_the_default(admin_client, news, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        post(admin_client, step="_send", topics=["news"])
    assert Notification.objects.get().fcm_delivery == "per_device"
