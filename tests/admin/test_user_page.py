"""The page per user, its test push, its link from the user admin; the inbox, preference and quiet
hours admin pages."""

from datetime import time

import pytest
from django.urls import reverse

from django_push import dispatch, testing
from django_push.message import PushMessage
from django_push.models import Device, InboxItem, Notification, NotificationPreference, QuietHours
from django_push.results import DeliveryStatus, SendResult

from ..factories import DeviceFactory, UserFactory, WebPushDeviceFactory
from .conftest import staff_with

pytestmark = pytest.mark.django_db


def page(user):
    return reverse("admin:django_push_device_user", args=[user.pk])


@pytest.fixture
def alice():
    user = UserFactory(username="alice")
    phone = DeviceFactory(owner=user, name="Phone")
    browser = WebPushDeviceFactory(owner=user, name="Browser")
    DeviceFactory(owner=user, active=False, deactivation_reason="Unregistered")
    testing.script_outcome(
        browser.address, SendResult(DeliveryStatus.FAILED, error_code="Oops", reason="boom")
    )
    dispatch.send_message(PushMessage(title="Welcome"), [phone, browser])
    NotificationPreference.objects.create(user=user, notification_type="like", push=False, in_app=True)
    QuietHours.objects.create(user=user, start=time(22), end=time(7), time_zone="Europe/Paris")
    InboxItem.objects.create(user=user, title="You have a like")
    return user, phone, browser


def test_user_page_shows_devices_health_deliveries_preferences_quiet_hours_inbox(admin_client, alice):
    user, phone, browser = alice
    response = admin_client.get(page(user))
    assert response.status_code == 200
    html = response.content.decode()
    health = {row["device"].pk: row["health"][0] for row in response.context["devices"]}
    assert health[phone.pk] == "ok" and health[browser.pk] == "failing"
    assert "inactive: Unregistered" in html
    assert {d.platform for d in response.context["deliveries"]} == {"apns", "webpush"}
    assert "Welcome" in html and "Oops" in html
    assert "like" in html and "22:00–07:00 (Europe/Paris)" in html
    assert "You have a like" in html and "Inbox (1 unread)" in html
    for device in (phone, browser):
        assert device.masked_address in html and device.address not in html
    assert browser.auth not in html and browser.p256dh not in html


def test_send_test_push_from_the_user_page(admin_client, alice):
    user, phone, browser = alice
    testing.reset()
    response = admin_client.post(
        reverse("admin:django_push_device_user_test", args=[user.pk]),
        {"title": "Test", "body": "hi", "data": ""},
    )
    assert response.status_code == 302 and response["Location"] == page(user)
    assert sorted(e.target.key for e in testing.outbox) == sorted([phone.pk, browser.pk])  # active only
    notification = Notification.objects.get(notification_type="admin_test")
    assert notification.targeted == 2


def test_user_page_permissions(client, alice):
    user = alice[0]
    client.force_login(staff_with("view_notification"))
    refused = client.get(page(user))
    assert refused.status_code == 403 and "Can view device" in refused.content.decode()
    client.force_login(staff_with("view_device"))
    html = client.get(page(user)).content.decode()
    assert 'data-push-button="test"' not in html
    test = client.post(reverse("admin:django_push_device_user_test", args=[user.pk]), {"title": "x"})
    assert test.status_code == 403 and "Can compose and send broadcasts" in test.content.decode()
    assert client.get(reverse("admin:django_push_device_user", args=[99999])).status_code == 404


def test_linked_from_user_admin_and_device_list(admin_client, alice):
    user = alice[0]
    html = admin_client.get(reverse("admin:auth_user_change", args=[user.pk])).content.decode()
    assert f'href="{page(user)}"' in html
    assert (
        f'href="{page(user)}"'
        in admin_client.get(reverse("admin:django_push_device_changelist")).content.decode()
    )


def test_inbox_preferences_and_quiet_hours_admin_pages(admin_client, alice):
    for model in ("inboxitem", "notificationpreference", "quiethours"):
        response = admin_client.get(reverse(f"admin:django_push_{model}_changelist"))
        assert response.status_code == 200, model
    assert (
        "You have a like"
        in admin_client.get(reverse("admin:django_push_inboxitem_changelist")).content.decode()
    )
    assert (
        admin_client.get(reverse("admin:django_push_inboxitem_add")).status_code == 403
    )  # written by the app
    assert Device.objects.count() == 3
