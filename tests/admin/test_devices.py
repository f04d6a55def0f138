"""Device admin: masked addresses everywhere, search, health filter, and its three actions."""

import json

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.messages import get_messages
from django.urls import reverse

from django_push import testing
from django_push.models import Device, Notification
from django_push.results import DeliveryStatus, SendResult

from ..factories import DeviceFactory, UserFactory, WebPushDeviceFactory
from .conftest import staff_with

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:django_push_device_changelist"


def change_url(device):
    return reverse("admin:django_push_device_change", args=[device.pk])


def secrets_of(*devices):
    return [s for d in devices for s in (d.address, d.p256dh, d.auth) if s]


def texts(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_list_shows_masked_addresses_and_health(admin_client):
    apns = DeviceFactory(name="Alice's phone", failure_count=2)
    web = WebPushDeviceFactory()
    response = admin_client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    html = response.content.decode()
    assert apns.masked_address in html and web.masked_address in html
    assert "Alice&#x27;s phone" in html
    for secret in secrets_of(apns, web):
        assert secret not in html
    for column in ("platform", "application", "owner_link", "environment", "health_column"):
        assert f"column-{column}" in html
    # Health in one compact cell (active, failures in a row, last success), so it fits at 1280 px.
    assert "failing (2 failures in a row)" in html and "never delivered" in html


def test_search_by_owner_and_name_not_by_token(admin_client):
    alice = UserFactory(username="alice")
    mine = DeviceFactory(owner=alice)
    named = DeviceFactory(name="kitchen tablet")
    other = DeviceFactory()

    def found(q):
        return list(admin_client.get(reverse(CHANGELIST), {"q": q}).context["cl"].result_list)

    assert found("alice") == [mine]
    assert found("kitchen") == [named]
    assert found(other.address) == []
    assert found(other.address[-10:]) == []


def test_health_filter(admin_client):
    from django.utils import timezone

    healthy = DeviceFactory(last_success_at=timezone.now())
    failing = DeviceFactory(failure_count=1, last_success_at=timezone.now())
    never = DeviceFactory()

    def found(value):
        response = admin_client.get(reverse(CHANGELIST), {"health": value})
        return set(response.context["cl"].result_list)

    assert found("ok") == {healthy}
    assert found("failing") == {failing}
    assert found("never") == {never}


def test_change_form_never_renders_the_address_or_keys(admin_client):
    device = WebPushDeviceFactory(name="old")
    response = admin_client.get(change_url(device))
    assert response.status_code == 200
    html = response.content.decode()
    assert device.masked_address in html
    for secret in secrets_of(device):
        assert secret not in html
    for field in ("address", "p256dh", "auth"):
        assert f'name="{field}"' not in html
    form = response.context["adminform"].form
    assert not {"address", "p256dh", "auth", "platform"} & set(form.fields)

    # Editing what may be edited keeps the address, and the admin log does not carry it either.
    response = admin_client.post(
        change_url(device),
        {
            "owner": device.owner_id,
            "name": "new",
            "environment": "production",
            "active": "on",
            "locale": "",
            "time_zone": "",
            "subscriptions-TOTAL_FORMS": "0",
            "subscriptions-INITIAL_FORMS": "0",
            "subscriptions-MIN_NUM_FORMS": "0",
            "subscriptions-MAX_NUM_FORMS": "1000",
            # A crafted POST cannot change the address: it is not a form field.
            "address": "https://evil.example/steal",
        },
    )
    assert response.status_code == 302
    after = Device.objects.get(pk=device.pk)
    assert (after.name, after.address) == ("new", device.address)
    entry = LogEntry.objects.get(object_id=str(device.pk))
    logged = entry.object_repr + json.dumps(entry.change_message)
    for secret in secrets_of(device):
        assert secret not in logged


def test_devices_are_not_added_in_the_admin(admin_client):
    assert admin_client.get(reverse("admin:django_push_device_add")).status_code == 403


def test_activate_and_deactivate(admin_client):
    on = DeviceFactory.create_batch(2)
    off = DeviceFactory(active=False, deactivation_reason="Unregistered", failure_count=3)
    response = admin_client.post(
        reverse(CHANGELIST), {"action": "deactivate", "_selected_action": [d.pk for d in (*on, off)]}
    )
    assert texts(response) == ["Deactivated 2 devices."]
    assert not Device.objects.filter(active=True).exists()
    assert Device.objects.get(pk=on[0].pk).deactivation_reason == "deactivated in the admin by admin"

    response = admin_client.post(reverse(CHANGELIST), {"action": "activate", "_selected_action": [off.pk]})
    assert texts(response)[-1] == "Activated 1 device."
    off.refresh_from_db()
    assert (off.active, off.deactivation_reason, off.failure_count, off.deactivated_at) == (True, "", 0, None)


def test_send_test_push_asks_first(admin_client):
    devices = [DeviceFactory(), WebPushDeviceFactory()]
    response = admin_client.post(
        reverse(CHANGELIST), {"action": "send_test_push", "_selected_action": [d.pk for d in devices]}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="title"' in html and 'name="body"' in html and 'name="data"' in html
    assert 'name="apply"' in html and 'value="send_test_push"' in html
    for device in devices:
        assert device.masked_address in html
        assert f'name="_selected_action" value="{device.pk}"' in html
    for secret in secrets_of(*devices):
        assert secret not in html
    assert testing.outbox == [] and not Notification.objects.exists()


def test_send_test_push_form_errors(admin_client):
    device = DeviceFactory()
    data = {"action": "send_test_push", "_selected_action": [device.pk], "apply": "1", "title": "t"}
    response = admin_client.post(reverse(CHANGELIST), {**data, "data": "{oops"})
    assert "Enter a valid JSON." in response.context["form"].errors["data"]
    response = admin_client.post(reverse(CHANGELIST), {**data, "title": "", "body": "", "data": ""})
    assert response.context["form"].non_field_errors() == ["A notification needs a title, a body or data."]
    assert testing.outbox == []


def test_send_test_push_shows_result_per_device(admin_client, admin_user):
    ok = DeviceFactory()
    bad = DeviceFactory()
    inactive = DeviceFactory(active=False)
    testing.script_outcome(
        bad.address,
        SendResult(DeliveryStatus.INVALID_TOKEN, error_code="BadDeviceToken", reason="dead token"),
    )
    response = admin_client.post(
        reverse(CHANGELIST),
        {
            "action": "send_test_push",
            "_selected_action": [ok.pk, bad.pk, inactive.pk],
            "apply": "1",
            "title": "Test",
            "body": "Hello",
            "data": '{"x": 1}',
        },
    )
    assert response.status_code == 200
    results = {device.pk: delivery for device, delivery in response.context["results"]}
    assert results[ok.pk].status == "sent"
    assert (results[bad.pk].status, results[bad.pk].error_code, results[bad.pk].reason) == (
        "invalid_token",
        "BadDeviceToken",
        "dead token",
    )
    assert results[inactive.pk] is None
    html = response.content.decode()
    assert "BadDeviceToken" in html and "dead token" in html and "device inactive" in html
    for secret in secrets_of(ok, bad, inactive):
        assert secret not in html
    assert texts(response) == ["Test push sent to 1 of 3 selected devices."]
    sent = [
        (e.message.title, {k: v for k, v in e.message.data.items() if k != "dp_ref"}) for e in testing.outbox
    ]
    assert sent == [("Test", {"x": 1})] * 2
    assert all(e.message.data["dp_ref"] for e in testing.outbox)  # each push carries its reference
    n = Notification.objects.get()
    assert (n.created_by, n.notification_type) == (admin_user, "admin_test")


def test_send_test_push_needs_send_broadcast(client):
    device = DeviceFactory()
    client.force_login(staff_with("view_device", "change_device"))
    response = client.get(reverse(CHANGELIST))
    html = response.content.decode()
    assert 'value="deactivate"' in html and 'value="send_test_push"' not in html
    client.post(
        reverse(CHANGELIST),
        {"action": "send_test_push", "_selected_action": [device.pk], "apply": "1", "title": "t"},
    )
    assert testing.outbox == []


def test_send_test_push_limit(admin_client, monkeypatch):
    from django_push.admin import devices as device_admin

    monkeypatch.setattr(device_admin, "TEST_PUSH_LIMIT", 1)
    selected = DeviceFactory.create_batch(2)
    response = admin_client.post(
        reverse(CHANGELIST),
        {
            "action": "send_test_push",
            "_selected_action": [d.pk for d in selected],
            "apply": "1",
            "title": "t",
        },
    )
    assert response.status_code == 302
    assert texts(response) == ["Select at most 1 devices for a test push."]
    assert testing.outbox == []


def _change_form(device, **values):
    return {
        "owner": device.owner_id,
        "name": device.name,
        "environment": "production",
        "active": "on",
        "locale": "",
        "time_zone": "",
        "subscriptions-TOTAL_FORMS": "0",
        "subscriptions-INITIAL_FORMS": "0",
        "subscriptions-MIN_NUM_FORMS": "0",
        "subscriptions-MAX_NUM_FORMS": "1000",
        **values,
    }


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("locale", "../../etc/passwd", "is not a BCP 47 language tag"),
        ("locale", "english", "is not a BCP 47 language tag"),
        ("time_zone", "../../etc/passwd", "is not an IANA time zone name"),
        ("time_zone", "Europe", "is not an IANA time zone name"),  # a directory of zoneinfo
        ("time_zone", "Mars/Olympus", "is not an IANA time zone name"),
    ],
)
def test_change_form_refuses_what_the_api_refuses(admin_client, field, value, message):
    device = DeviceFactory(locale="fr-FR", time_zone="Europe/Paris")
    response = admin_client.post(change_url(device), _change_form(device, **{field: value}))
    assert response.status_code == 200  # the form again, with the error
    errors = response.context["adminform"].form.errors
    assert message in errors[field][0]
    after = Device.objects.get(pk=device.pk)
    assert (after.locale, after.time_zone) == ("fr-FR", "Europe/Paris")


def test_change_form_normalizes_like_the_api(admin_client):
    device = DeviceFactory()
    response = admin_client.post(
        change_url(device), _change_form(device, locale="zh_hant_tw", time_zone=" America/Toronto ")
    )
    assert response.status_code == 302
    after = Device.objects.get(pk=device.pk)
    assert (after.locale, after.time_zone) == ("zh-Hant-TW", "America/Toronto")
