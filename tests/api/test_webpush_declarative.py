"""The subscribe API records which PushManager a browser used (declarative Web Push capability)."""

from __future__ import annotations

import pytest

from django_push.models import Device, PushManagerKind

from .conftest import API, AUTH, ENDPOINT, P256DH, subscription

pytestmark = pytest.mark.django_db

SUBSCRIBE = API + "webpush/subscribe/"
DEVICES = API + "devices/"


def test_window_push_manager_is_recorded_and_makes_a_declarative_target(api):
    response = api.post(SUBSCRIBE, {**subscription(), "push_manager": "window"}, format="json")
    assert response.status_code == 201, response.json()
    device = Device.objects.get()
    assert device.push_manager == PushManagerKind.WINDOW
    assert device.to_target().declarative is True


def test_resubscribing_through_a_service_worker_updates_the_record(api):
    api.post(SUBSCRIBE, {**subscription(), "push_manager": "window"}, format="json")
    api.post(SUBSCRIBE, {**subscription(), "push_manager": "service_worker"}, format="json")
    device = Device.objects.get()
    assert device.push_manager == PushManagerKind.SERVICE_WORKER
    assert device.to_target().declarative is False


def test_without_the_field_the_kind_stays_unknown_and_classic(api):
    assert api.post(SUBSCRIBE, subscription(), format="json").status_code == 201
    device = Device.objects.get()
    assert device.push_manager == "" and device.to_target().declarative is False


def test_an_unknown_push_manager_is_a_field_error(api):
    response = api.post(SUBSCRIBE, {**subscription(), "push_manager": "iframe"}, format="json")
    assert response.status_code == 400
    assert "push_manager" in response.json()
    assert not Device.objects.exists()


def test_device_registration_accepts_it_for_webpush_only(api):
    body = {
        "platform": "webpush",
        "token": ENDPOINT,
        "p256dh": P256DH,
        "auth": AUTH,
        "push_manager": "window",
    }
    assert api.post(DEVICES, body, format="json").status_code == 201
    assert Device.objects.get().push_manager == "window"
    fcm = {"platform": "fcm", "token": "f" * 152, "push_manager": "window"}
    response = api.post(DEVICES, fcm, format="json")
    assert response.status_code == 400 and "push_manager" in response.json()
