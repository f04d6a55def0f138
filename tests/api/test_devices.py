"""devices/: idempotent registration, ownership transfer, owner-scoped list/detail/update/delete."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from django_push.models import Device, Subscription

from ..factories import DeviceFactory, TopicFactory, UserFactory, WebPushDeviceFactory
from .conftest import API, APNS_TOKEN, AUTH, ENDPOINT, FCM_TOKEN, P256DH

pytestmark = pytest.mark.django_db

DEVICES = API + "devices/"


def detail(device: Device) -> str:
    return f"{DEVICES}{device.public_id}/"


def test_register_creates_then_updates_the_same_row(api, user):
    first = api.post(DEVICES, {"platform": "apns", "token": APNS_TOKEN, "name": "iPhone"}, format="json")
    assert first.status_code == 201, first.json()
    second = api.post(DEVICES, {"platform": "apns", "token": APNS_TOKEN, "name": "iPhone 16"}, format="json")
    assert second.status_code == 200
    assert Device.objects.count() == 1
    device = Device.objects.get()
    assert (device.owner, device.name, device.application) == (user, "iPhone 16", "default")
    assert first.json()["id"] == second.json()["id"] == str(device.public_id)


def test_apns_token_is_stored_lower_case_and_matched_case_insensitively(api):
    api.post(DEVICES, {"platform": "apns", "token": APNS_TOKEN.upper()}, format="json")
    again = api.post(DEVICES, {"platform": "apns", "token": APNS_TOKEN}, format="json")
    assert again.status_code == 200
    assert Device.objects.get().address == APNS_TOKEN


def test_response_never_contains_the_full_token(api):
    response = api.post(DEVICES, {"platform": "fcm", "token": FCM_TOKEN}, format="json")
    body = response.content.decode()
    assert FCM_TOKEN not in body
    assert response.json()["masked_token"] == f"{FCM_TOKEN[:6]}…{FCM_TOKEN[-4:]}"
    assert FCM_TOKEN not in api.get(DEVICES).content.decode()
    assert FCM_TOKEN not in api.get(f"{DEVICES}{response.json()['id']}/").content.decode()


def test_registration_response_fields(api):
    body = api.post(
        DEVICES,
        {
            "platform": "apns",
            "token": APNS_TOKEN,
            "environment": "sandbox",
            "locale": "fr_ca",
            "time_zone": "America/Toronto",
        },
        format="json",
    ).json()
    assert set(body) == {
        "id",
        "platform",
        "kind",
        "activity_type",
        "activity_id",
        "application",
        "masked_token",
        "name",
        "environment",
        "locale",
        "time_zone",
        "active",
        "created_at",
        "registered_at",
        "last_seen_at",
    }
    assert (body["environment"], body["locale"], body["time_zone"]) == ("sandbox", "fr-CA", "America/Toronto")
    assert body["active"] is True


def test_user_agent_comes_from_the_header_unless_sent(api):
    api.post(DEVICES, {"platform": "fcm", "token": FCM_TOKEN}, format="json", HTTP_USER_AGENT="MyApp/1.0")
    assert Device.objects.get().user_agent == "MyApp/1.0"
    api.post(
        DEVICES,
        {"platform": "fcm", "token": FCM_TOKEN, "user_agent": "MyApp/2.0 (Pixel 9)"},
        format="json",
        HTTP_USER_AGENT="okhttp",
    )
    assert Device.objects.get().user_agent == "MyApp/2.0 (Pixel 9)"
    api.post(DEVICES, {"platform": "fcm", "token": FCM_TOKEN}, format="json", HTTP_USER_AGENT="x" * 600)
    assert Device.objects.get().user_agent == "x" * 512


def test_reregistering_reactivates_and_refreshes(api, user):
    old = timezone.now() - timedelta(days=30)
    device = DeviceFactory(
        owner=user,
        address=APNS_TOKEN,
        active=False,
        deactivated_at=old,
        deactivation_reason="Unregistered",
        failure_count=4,
        last_failure_reason="BadDeviceToken",
        registered_at=old,
        last_seen_at=old,
        name="kept",
    )
    response = api.post(DEVICES, {"platform": "apns", "token": APNS_TOKEN}, format="json")
    assert response.status_code == 200
    device.refresh_from_db()
    assert device.active is True
    assert (device.deactivated_at, device.deactivation_reason) == (None, "")
    assert (device.failure_count, device.last_failure_reason) == (0, "")
    assert device.registered_at > old and device.last_seen_at > old
    assert device.name == "kept"  # fields left out keep their value for the same owner


def test_same_token_for_another_application_or_platform_is_another_device(api, push_conf):
    push_conf(
        APPLICATIONS={
            "ios-a": {"PLATFORM": "apns"},
            "ios-b": {"PLATFORM": "apns"},
            "default": {"PLATFORM": "fcm"},
        }
    )
    for application in ("ios-a", "ios-b"):
        body = {"platform": "apns", "application": application, "token": APNS_TOKEN}
        assert api.post(DEVICES, body, format="json").status_code == 201
    assert api.post(DEVICES, {"platform": "fcm", "token": APNS_TOKEN}, format="json").status_code == 201
    assert Device.objects.count() == 3


def test_token_posted_by_another_user_moves_to_them_and_loses_topics(api, other_api, user, other_user):
    device = DeviceFactory(
        owner=user, address=APNS_TOKEN, name="Alice's iPhone", locale="fr", time_zone="UTC"
    )
    Subscription.objects.create(device=device, topic=TopicFactory(name="news"))
    response = other_api.post(DEVICES, {"platform": "apns", "token": APNS_TOKEN}, format="json")
    assert response.status_code == 200
    device.refresh_from_db()
    assert device.owner == other_user
    assert not Subscription.objects.filter(device=device).exists()
    # The previous owner's description of their phone does not follow the token to its new owner.
    assert (device.name, device.locale, device.time_zone) == ("", "", "")
    assert response.json()["name"] == ""
    assert api.get(DEVICES).json()["count"] == 0
    assert api.get(detail(device)).status_code == 404
    assert [d["id"] for d in other_api.get(DEVICES).json()["results"]] == [str(device.public_id)]


def test_list_shows_only_my_devices_paginated(api, user):
    mine = [DeviceFactory(owner=user) for _ in range(3)]
    DeviceFactory(owner=UserFactory())
    DeviceFactory(owner=None)
    body = api.get(DEVICES, {"page_size": 2}).json()
    assert body["count"] == 3
    assert [d["id"] for d in body["results"]] == [str(d.public_id) for d in mine[:2]]
    assert body["next"] is not None
    page2 = api.get(DEVICES, {"page_size": 2, "page": 2}).json()
    assert [d["id"] for d in page2["results"]] == [str(mine[2].public_id)]


def test_detail_get_patch_delete(api, user):
    device = DeviceFactory(owner=user, address=APNS_TOKEN)
    got = api.get(detail(device))
    assert got.status_code == 200
    assert got.json()["id"] == str(device.public_id)
    patched = api.patch(
        detail(device),
        {"name": "Work phone", "locale": "pt_br", "time_zone": "America/Sao_Paulo", "environment": "sandbox"},
        format="json",
    )
    assert patched.status_code == 200, patched.json()
    assert patched.json()["name"] == "Work phone"
    device.refresh_from_db()
    assert (device.name, device.locale, device.time_zone, device.environment) == (
        "Work phone",
        "pt-BR",
        "America/Sao_Paulo",
        "sandbox",
    )
    assert api.delete(detail(device)).status_code == 204
    assert not Device.objects.filter(pk=device.pk).exists()


def test_patch_ignores_the_token_and_platform(api, user):
    device = DeviceFactory(owner=user, address=APNS_TOKEN)
    response = api.patch(detail(device), {"token": "c" * 64, "platform": "fcm", "name": "x"}, format="json")
    assert response.status_code == 200
    device.refresh_from_db()
    assert (device.address, device.platform, device.name) == (APNS_TOKEN, "apns", "x")


def test_put_is_not_allowed(api, user):
    device = DeviceFactory(owner=user)
    assert api.put(detail(device), {"name": "x"}, format="json").status_code == 405


def test_unknown_id_is_404(api):
    assert api.get(f"{DEVICES}{uuid.uuid4()}/").status_code == 404
    assert api.get(f"{DEVICES}not-a-uuid/").status_code == 404


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_another_users_device_is_404(other_api, user, method):
    device = DeviceFactory(owner=user, name="Alice's iPhone")
    response = getattr(other_api, method)(detail(device), {"name": "mine now"}, format="json")
    assert response.status_code == 404
    device.refresh_from_db()
    assert device.name == "Alice's iPhone"
    assert Device.objects.filter(pk=device.pk).exists()


def test_webpush_through_devices_endpoint(api, user):
    response = api.post(
        DEVICES, {"platform": "webpush", "token": ENDPOINT, "p256dh": P256DH, "auth": AUTH}, format="json"
    )
    assert response.status_code == 201, response.json()
    device = Device.objects.get()
    assert (device.platform, device.address, device.p256dh, device.auth) == (
        "webpush",
        ENDPOINT,
        P256DH,
        AUTH,
    )


def test_webpush_endpoint_of_another_user_needs_its_auth_secret(other_api, user, other_user):
    device = WebPushDeviceFactory(owner=user, address=ENDPOINT, p256dh=P256DH, auth=AUTH)
    stranger = {"platform": "webpush", "token": ENDPOINT, "p256dh": P256DH, "auth": "A" * 22}
    refused = other_api.post(DEVICES, stranger, format="json")
    assert refused.status_code == 400
    assert refused.json() == {"auth": ["This endpoint is registered with another auth secret."]}
    device.refresh_from_db()
    assert (device.owner, device.auth) == (user, AUTH)
    same_browser = {**stranger, "auth": AUTH}
    assert other_api.post(DEVICES, same_browser, format="json").status_code == 200
    device.refresh_from_db()
    assert device.owner == other_user


def test_unauthenticated_is_refused(anon):
    response = anon.post(DEVICES, {"platform": "apns", "token": APNS_TOKEN}, format="json")
    assert response.status_code in (401, 403)
    assert response.json()["detail"] == "Authentication credentials were not provided."
    assert anon.get(DEVICES).status_code in (401, 403)
    assert not Device.objects.exists()


@pytest.mark.parametrize("platform", ["email", "sms", "webhook"])
def test_channel_addresses_cannot_be_registered_or_seen_through_the_device_api(api, user, platform):
    response = api.post(DEVICES, {"platform": platform, "token": "victim@example.com"}, format="json")
    assert response.status_code == 400
    assert "not a platform" in response.json()["platform"][0]
    synced = Device.objects.create(platform=platform, owner=user, address="me@example.com")
    assert api.get(DEVICES).json()["count"] == 0
    assert api.delete(detail(synced)).status_code == 404
    assert Device.objects.filter(pk=synced.pk).exists()
