"""Authentication, configurable permissions (read live) and the registration throttle."""

from __future__ import annotations

import base64

import pytest
from rest_framework.test import APIClient

from django_push.api.permissions import api_permission_classes
from django_push.api.throttling import RegistrationThrottle
from django_push.exceptions import PushConfigurationError
from django_push.models import Device

from ..factories import DeviceFactory, TopicFactory, UserFactory
from .conftest import API, APNS_TOKEN, subscription

pytestmark = pytest.mark.django_db

DEVICES = API + "devices/"


def register(client: APIClient, n: int = 0, **extra: str):
    token = f"{n:064x}"
    return client.post(DEVICES, {"platform": "apns", "token": token}, format="json", **extra)


def test_session_and_basic_authentication_of_the_site_work(user):
    user.set_password("pw")
    user.save()
    session = APIClient()
    assert session.login(username=user.username, password="pw")
    assert session.post(DEVICES, {"platform": "apns", "token": APNS_TOKEN}, format="json").status_code == 201
    basic = APIClient()
    credentials = base64.b64encode(f"{user.username}:pw".encode()).decode()
    response = basic.get(DEVICES, HTTP_AUTHORIZATION=f"Basic {credentials}")
    assert response.status_code == 200
    assert response.json()["count"] == 1


def test_permission_classes_are_read_per_request(api, push_conf, user):
    DeviceFactory(owner=user)
    assert api.get(DEVICES).status_code == 200
    push_conf(API_PERMISSION_CLASSES=["rest_framework.permissions.IsAdminUser"])
    assert api.get(DEVICES).status_code == 403
    assert register(api).status_code == 403
    user.is_staff = True
    user.save()
    assert api.get(DEVICES).status_code == 200


def test_open_permissions_still_scope_devices_to_their_owner(anon, push_conf):
    push_conf(API_PERMISSION_CLASSES=["rest_framework.permissions.AllowAny"])
    device = DeviceFactory()
    response = anon.get(DEVICES)
    assert response.status_code == 200
    assert response.json()["count"] == 0
    assert anon.get(f"{DEVICES}{device.public_id}/").status_code == 404


def test_bad_permission_setting_names_the_setting(push_conf):
    push_conf(API_PERMISSION_CLASSES=["no.such.Permission"])
    with pytest.raises(PushConfigurationError, match=r"API_PERMISSION_CLASSES'\] entry 'no.such.Permission'"):
        api_permission_classes()
    push_conf(API_PERMISSION_CLASSES="rest_framework.permissions.AllowAny")
    with pytest.raises(PushConfigurationError, match="must be a list"):
        api_permission_classes()


def test_registration_throttle_is_on_by_default_at_60_per_minute(api):
    assert RegistrationThrottle().get_rate() == "60/min"
    statuses = [register(api, n).status_code for n in range(61)]
    assert statuses[:60] == [201] * 60
    assert statuses[60] == 429


def test_throttle_rate_is_read_live_and_answers_429(api, push_conf):
    push_conf(API_THROTTLE_RATE="2/min")
    assert register(api, 1).status_code == 201
    assert register(api, 2).status_code == 201
    throttled = register(api, 3)
    assert throttled.status_code == 429
    assert throttled.json()["detail"].startswith("Request was throttled.")
    assert int(throttled["Retry-After"]) > 0
    assert Device.objects.count() == 2
    push_conf(API_THROTTLE_RATE=None)
    assert register(api, 3).status_code == 201


def test_throttle_is_per_user_and_spares_reads(api, other_api, push_conf):
    push_conf(API_THROTTLE_RATE="1/min")
    assert register(api, 1).status_code == 201
    assert register(api, 2).status_code == 429
    assert api.get(DEVICES).status_code == 200
    assert register(other_api, 3).status_code == 201


def test_throttle_covers_subscribe_and_topic_writes(api, user, push_conf):
    push_conf(API_THROTTLE_RATE="1/min")
    assert api.post(API + "webpush/subscribe/", subscription(), format="json").status_code == 201
    assert api.post(API + "webpush/subscribe/", subscription(), format="json").status_code == 429
    TopicFactory(name="news")
    device = DeviceFactory(owner=user)
    assert (
        api.post(f"{DEVICES}{device.public_id}/topics/", {"topic": "news"}, format="json").status_code == 429
    )


def test_anonymous_callers_are_throttled_by_address(anon, push_conf):
    push_conf(API_THROTTLE_RATE="1/min", ALLOW_ANONYMOUS_WEBPUSH=True)
    url = API + "webpush/subscribe/"
    assert anon.post(url, subscription(), format="json", REMOTE_ADDR="10.0.0.1").status_code == 201
    assert anon.post(url, subscription(), format="json", REMOTE_ADDR="10.0.0.1").status_code == 429
    other = subscription(endpoint="https://fcm.googleapis.com/fcm/send/other")
    assert anon.post(url, other, format="json", REMOTE_ADDR="10.0.0.2").status_code == 201


def test_bad_throttle_rate_names_the_setting(push_conf):
    push_conf(API_THROTTLE_RATE="lots")
    with pytest.raises(PushConfigurationError, match=r"API_THROTTLE_RATE'\] is 'lots'"):
        RegistrationThrottle()


def test_throttle_keys_users_apart_from_addresses():
    user = UserFactory()

    class Req:
        META = {"REMOTE_ADDR": "10.0.0.1"}

    req = Req()
    req.user = user  # type: ignore[attr-defined]
    assert (
        RegistrationThrottle().get_cache_key(req, None) == f"throttle_django_push_registration_user-{user.pk}"
    )


RESUBSCRIBE = API + "webpush/resubscribe/"


def resubscribe(client: APIClient, **extra: str) -> int:
    body = {"old": subscription(), "subscription": subscription()}
    return client.post(RESUBSCRIBE, body, format="json", REMOTE_ADDR="10.0.0.1", **extra).status_code


def test_a_fresh_x_forwarded_for_does_not_dodge_the_anonymous_throttle(anon, push_conf):
    """With NUM_PROXIES unset, X-Forwarded-For is whatever the client wrote: it must not be the key."""
    push_conf(API_THROTTLE_RATE="3/min")
    statuses = [resubscribe(anon, HTTP_X_FORWARDED_FOR=f"203.0.113.{i}") for i in range(6)]
    assert statuses == [404, 404, 404, 429, 429, 429]


@pytest.mark.parametrize("num_proxies", [None, 0])
def test_without_proxies_the_key_is_remote_addr(anon, settings, num_proxies):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": num_proxies}
    request = APIClient().request().wsgi_request
    request.META.update(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.7, 198.51.100.2")
    assert RegistrationThrottle().get_ident(request) == "10.0.0.1"


def test_behind_proxies_the_key_is_the_address_the_nearest_proxy_saw(anon, settings, push_conf):
    """NUM_PROXIES = 1: the last X-Forwarded-For entry is the one our proxy added; what the client
    put before it does not matter."""
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    push_conf(API_THROTTLE_RATE="2/min")
    spoofed = [resubscribe(anon, HTTP_X_FORWARDED_FOR=f"203.0.113.{i}, 198.51.100.2") for i in range(3)]
    assert spoofed == [404, 404, 429]
    assert resubscribe(anon, HTTP_X_FORWARDED_FOR="198.51.100.3") == 404  # another client


@pytest.mark.parametrize(
    ("num_proxies", "xff", "ident"),
    [
        (2, "203.0.113.7, 198.51.100.2, 10.0.0.5", "198.51.100.2"),
        (3, "198.51.100.2", "198.51.100.2"),  # fewer entries than proxies: the leftmost
        (1, "not-an-address", "10.0.0.1"),  # garbage from a misconfigured proxy: the socket address
        (1, "2001:DB8::0:1", "2001:db8::1"),  # one spelling per address
        (1, "", "10.0.0.1"),
    ],
)
def test_forwarded_address_choice(anon, settings, num_proxies, xff, ident):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": num_proxies}
    request = APIClient().request().wsgi_request
    request.META.update(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=xff)
    assert RegistrationThrottle().get_ident(request) == ident
