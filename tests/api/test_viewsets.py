"""The ViewSets of django_push.api.viewsets on a site's own DefaultRouter (tests/api/router_urls.py):
the same answers, access rules, throttle and owner scoping as the views of django_push.api.urls."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

from django_push.models import Device, Subscription

from ..factories import DeviceFactory, TopicFactory, WebPushDeviceFactory
from .conftest import APNS_TOKEN, AUTH, ENDPOINT, FCM_TOKEN, P256DH, subscription

pytestmark = pytest.mark.django_db

API = "/api/"
DEVICES = API + "devices/"
TOPICS = API + "topics/"
SUBSCRIBE = API + "webpush/subscribe/"
UNSUBSCRIBE = API + "webpush/unsubscribe/"
RESUBSCRIBE = API + "webpush/resubscribe/"
VAPID = API + "webpush/vapid-public-key/"
NEW_ENDPOINT = ENDPOINT + "-rotated"
NEW_AUTH = "EREREREREREREREREREREQ"


@pytest.fixture(autouse=True)
def _router_urls(settings: Any) -> None:
    settings.ROOT_URLCONF = "tests.api.router_urls"


def device_url(device: Device, suffix: str = "") -> str:
    return f"{DEVICES}{device.public_id}/{suffix}"


def test_router_url_names():
    assert reverse("push-device-list") == DEVICES
    assert reverse("push-device-detail", args=["3f1e9a52-7c1b-4a0e-9d55-2f1f0c8a6b11"]).startswith(DEVICES)
    assert reverse("push-topic-list") == TOPICS
    assert reverse("push-webpush-subscribe") == SUBSCRIBE
    assert reverse("push-webpush-unsubscribe") == UNSUBSCRIBE
    assert reverse("push-webpush-resubscribe") == RESUBSCRIBE
    assert reverse("push-webpush-vapid-public-key") == VAPID


# -- devices ---------------------------------------------------------------------------------------


def test_create_is_idempotent(api, user):
    body = {"platform": "apns", "token": APNS_TOKEN, "name": "Phone"}
    first = api.post(DEVICES, body, format="json")
    assert first.status_code == 201, first.json()
    assert first.json()["platform"] == "apns"
    assert APNS_TOKEN not in first.content.decode()  # masked, as with the views
    second = api.post(DEVICES, {**body, "name": "Renamed"}, format="json")
    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    device = Device.objects.get()
    assert (device.owner, device.address, device.name) == (user, APNS_TOKEN, "Renamed")


def test_create_validation_errors_are_400_with_field_errors(api):
    response = api.post(DEVICES, {"platform": "apns", "token": "abc"}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"token"}
    response = api.post(DEVICES, {"platform": "fax", "token": FCM_TOKEN}, format="json")
    assert response.status_code == 400
    assert response.json() == {"platform": ['"fax" is not a platform: use apns, fcm or webpush.']}
    assert not Device.objects.exists()


def test_list_retrieve_patch_delete_own_device(api, user):
    device = DeviceFactory(owner=user, name="old")
    DeviceFactory()  # someone else's
    listed = api.get(DEVICES)
    assert listed.status_code == 200
    assert [d["id"] for d in listed.json()["results"]] == [str(device.public_id)]
    assert api.get(device_url(device)).json()["name"] == "old"
    patched = api.patch(device_url(device), {"name": "new", "time_zone": "Europe/Paris"}, format="json")
    assert patched.status_code == 200
    device.refresh_from_db()
    assert (device.name, device.time_zone) == ("new", "Europe/Paris")
    assert api.delete(device_url(device)).status_code == 204
    assert not Device.objects.filter(pk=device.pk).exists()


def test_patch_validation_errors_are_400(api, user):
    device = DeviceFactory(owner=user, platform="fcm", address=FCM_TOKEN)
    response = api.patch(
        device_url(device), {"environment": "sandbox", "time_zone": "Mars/Olympus"}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()) == {"environment", "time_zone"}
    device.refresh_from_db()
    assert device.time_zone != "Mars/Olympus"


def test_put_is_not_offered(api, user):
    device = DeviceFactory(owner=user)
    assert api.put(device_url(device), {"name": "x"}, format="json").status_code == 405


def test_another_users_device_is_404_everywhere(api, other_user):
    theirs = DeviceFactory(owner=other_user, name="theirs")
    news = TopicFactory(name="news", self_subscribe=True)
    Subscription.objects.create(device=theirs, topic=news)
    assert api.get(device_url(theirs)).status_code == 404
    assert api.patch(device_url(theirs), {"name": "mine now"}, format="json").status_code == 404
    assert api.delete(device_url(theirs)).status_code == 404
    assert api.get(device_url(theirs, "topics/")).status_code == 404
    assert api.post(device_url(theirs, "topics/"), {"topic": "news"}, format="json").status_code == 404
    assert api.delete(device_url(theirs, "topics/news/")).status_code == 404
    theirs.refresh_from_db()
    assert theirs.name == "theirs"
    assert Subscription.objects.filter(device=theirs, topic=news).exists()


def test_lookup_is_the_public_id_never_the_token_or_pk(api, user):
    device = DeviceFactory(owner=user)
    assert api.get(f"{DEVICES}{device.address}/").status_code == 404
    assert api.get(f"{DEVICES}{device.pk}/").status_code == 404
    assert api.get(device_url(device)).status_code == 200


def test_format_suffix_routes_work(api, user):
    """DefaultRouter adds `.json` routes, which pass a `format` argument to every action."""
    device = DeviceFactory(owner=user)
    assert api.get(f"{DEVICES}{device.public_id}.json").json()["id"] == str(device.public_id)
    assert api.get(f"{DEVICES}{device.public_id}/topics.json").status_code == 200


def test_anonymous_is_refused_for_devices_even_with_anonymous_webpush(anon, push_conf):
    push_conf(ALLOW_ANONYMOUS_WEBPUSH=True)
    device = DeviceFactory(owner=None)
    assert anon.get(DEVICES).status_code in (401, 403)
    assert anon.post(DEVICES, {"platform": "apns", "token": APNS_TOKEN}, format="json").status_code in (
        401,
        403,
    )
    assert anon.get(device_url(device)).status_code in (401, 403)
    assert anon.get(TOPICS).status_code in (401, 403)
    assert Device.objects.count() == 1


def test_configured_permission_classes_apply(api, push_conf):
    push_conf(API_PERMISSION_CLASSES=["rest_framework.permissions.IsAdminUser"])
    assert api.get(DEVICES).status_code == 403
    assert api.post(DEVICES, {"platform": "apns", "token": APNS_TOKEN}, format="json").status_code == 403
    assert not Device.objects.exists()


# -- topics ----------------------------------------------------------------------------------------


def test_topics_list_join_leave(api, user):
    device = DeviceFactory(owner=user)
    TopicFactory(name="news", self_subscribe=True, description="Breaking")
    TopicFactory(name="billing", self_subscribe=False)
    assert api.get(TOPICS).json()["results"] == [{"name": "news", "description": "Breaking"}]
    joined = api.post(device_url(device, "topics/"), {"topic": "news"}, format="json")
    assert joined.status_code == 201
    assert api.post(device_url(device, "topics/"), {"topic": "news"}, format="json").status_code == 200
    assert Subscription.objects.filter(device=device).count() == 1
    assert [s["topic"] for s in api.get(device_url(device, "topics/")).json()["results"]] == ["news"]
    assert api.delete(device_url(device, "topics/news/")).status_code == 204
    assert not Subscription.objects.filter(device=device).exists()


def test_site_managed_and_unknown_topics(api, user):
    device = DeviceFactory(owner=user)
    billing = TopicFactory(name="billing", self_subscribe=False)
    Subscription.objects.create(device=device, topic=billing)
    assert api.post(device_url(device, "topics/"), {"topic": "billing"}, format="json").status_code == 403
    assert api.delete(device_url(device, "topics/billing/")).status_code == 403
    assert Subscription.objects.filter(device=device, topic=billing).exists()
    unknown = api.post(device_url(device, "topics/"), {"topic": "sports"}, format="json")
    assert unknown.status_code == 400
    assert unknown.json() == {"topic": ["Unknown topic 'sports'."]}
    assert api.delete(device_url(device, "topics/sports/")).status_code == 404


# -- throttling and the parser ----------------------------------------------------------------------


def test_throttle_applies_to_posts_not_reads(api, user, push_conf):
    push_conf(API_THROTTLE_RATE="1/min")
    assert api.post(DEVICES, {"platform": "apns", "token": APNS_TOKEN}, format="json").status_code == 201
    throttled = api.post(DEVICES, {"platform": "fcm", "token": FCM_TOKEN}, format="json")
    assert throttled.status_code == 429
    assert int(throttled["Retry-After"]) > 0
    assert Device.objects.count() == 1
    assert api.get(DEVICES).status_code == 200
    TopicFactory(name="news")
    device = Device.objects.get()
    assert api.post(device_url(device, "topics/"), {"topic": "news"}, format="json").status_code == 429
    assert api.post(SUBSCRIBE, subscription(), format="json").status_code == 429
    assert api.patch(device_url(device), {"name": "x"}, format="json").status_code == 200  # as the views


def test_anonymous_webpush_is_throttled_by_address(anon, push_conf):
    push_conf(API_THROTTLE_RATE="1/min", ALLOW_ANONYMOUS_WEBPUSH=True)
    assert anon.post(SUBSCRIBE, subscription(), format="json", REMOTE_ADDR="10.0.0.1").status_code == 201
    assert anon.post(SUBSCRIBE, subscription(), format="json", REMOTE_ADDR="10.0.0.1").status_code == 429
    other = subscription(endpoint="https://fcm.googleapis.com/fcm/send/other")
    assert anon.post(SUBSCRIBE, other, format="json", REMOTE_ADDR="10.0.0.2").status_code == 201


def test_the_apis_parser_guards_the_viewsets(api):
    too_large = api.post(DEVICES, {"platform": "apns", "token": "a" * 20_000}, format="json")
    assert too_large.status_code == 413
    nul = api.post(DEVICES, {"platform": "apns", "token": APNS_TOKEN, "name": "a\x00b"}, format="json")
    assert nul.status_code == 400
    form = api.post(DEVICES, {"platform": "apns", "token": APNS_TOKEN})  # multipart, not JSON
    assert form.status_code == 415
    assert not Device.objects.exists()


# -- Web Push ---------------------------------------------------------------------------------------


def test_webpush_subscribe_then_unsubscribe(api, user):
    first = api.post(SUBSCRIBE, subscription(), format="json")
    assert first.status_code == 201, first.json()
    assert api.post(SUBSCRIBE, subscription(), format="json").status_code == 200
    device = Device.objects.get()
    assert (device.owner, device.address, device.p256dh, device.auth) == (user, ENDPOINT, P256DH, AUTH)
    assert api.post(UNSUBSCRIBE, {"endpoint": ENDPOINT}, format="json").status_code == 204
    assert not Device.objects.exists()


def test_webpush_subscribe_validation_is_400(api):
    bad = api.post(SUBSCRIBE, subscription(endpoint="http://fcm.googleapis.com/x"), format="json")
    assert bad.status_code == 400
    assert set(bad.json()) == {"endpoint"}
    assert not Device.objects.exists()


def test_anonymous_webpush_refused_by_default(anon):
    WebPushDeviceFactory(owner=None, address=ENDPOINT, auth=AUTH)
    assert anon.post(SUBSCRIBE, subscription(NEW_ENDPOINT), format="json").status_code in (401, 403)
    body = {"endpoint": ENDPOINT, "keys": {"auth": AUTH}}
    assert anon.post(UNSUBSCRIBE, body, format="json").status_code in (401, 403)
    assert list(Device.objects.values_list("address", flat=True)) == [ENDPOINT]


def test_anonymous_webpush_when_allowed(anon, push_conf):
    push_conf(ALLOW_ANONYMOUS_WEBPUSH=True)
    assert anon.post(SUBSCRIBE, subscription(), format="json").status_code == 201
    assert Device.objects.get().owner is None
    without_proof = anon.post(UNSUBSCRIBE, {"endpoint": ENDPOINT}, format="json")
    assert without_proof.status_code == 400
    assert set(without_proof.json()) == {"keys"}
    assert Device.objects.exists()
    body = {"endpoint": ENDPOINT, "keys": {"auth": AUTH}}
    assert anon.post(UNSUBSCRIBE, body, format="json").status_code == 204
    assert not Device.objects.exists()


def _rotation(old_auth: str = AUTH) -> dict[str, Any]:
    return {
        "old": {"endpoint": ENDPOINT, "keys": {"p256dh": P256DH, "auth": old_auth}},
        "subscription": subscription(NEW_ENDPOINT, auth=NEW_AUTH),
    }


def test_resubscribe_moves_the_device(anon, user):
    device = WebPushDeviceFactory(owner=user, address=ENDPOINT, p256dh=P256DH, auth=AUTH)
    response = anon.post(RESUBSCRIBE, _rotation(), format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["id"] == str(device.public_id)
    device.refresh_from_db()
    assert (device.address, device.auth, device.owner) == (NEW_ENDPOINT, NEW_AUTH, user)
    assert anon.post(RESUBSCRIBE, _rotation(old_auth="A" * 22), format="json").status_code == 404


def test_resubscribe_cannot_take_over_another_users_endpoint(anon, user, other_user):
    victim = WebPushDeviceFactory(owner=other_user, address=NEW_ENDPOINT, auth="IiIiIiIiIiIiIiIiIiIiIg")
    mine = WebPushDeviceFactory(owner=user, address=ENDPOINT, auth=AUTH)
    before = {d.pk: (d.address, d.p256dh, d.auth, d.owner_id, d.active) for d in (victim, mine)}
    response = anon.post(RESUBSCRIBE, _rotation(), format="json")
    assert response.status_code == 400
    assert response.json() == {
        "subscription": {"keys": {"auth": ["This endpoint is registered with another auth secret."]}}
    }
    assert str(victim.public_id) not in response.content.decode()
    after = {d.pk: (d.address, d.p256dh, d.auth, d.owner_id, d.active) for d in Device.objects.all()}
    assert after == before


def test_resubscribe_and_vapid_key_need_no_session_or_csrf(user, push_conf):
    """The service worker has no CSRF token: the public actions authenticate nobody, while the
    others keep the site's session authentication (and so its CSRF check)."""
    push_conf(VAPID_PUBLIC_KEY=P256DH)
    WebPushDeviceFactory(owner=user, address=ENDPOINT, auth=AUTH)
    session = APIClient(enforce_csrf_checks=True)
    session.force_login(user)
    assert session.post(RESUBSCRIBE, _rotation(), format="json").status_code == 200
    assert session.get(VAPID).json() == {"public_key": P256DH}
    assert session.post(SUBSCRIBE, subscription(), format="json").status_code == 403  # CSRF


def test_vapid_public_key(anon, push_conf):
    push_conf(VAPID_PUBLIC_KEY="")
    assert anon.get(VAPID).status_code == 503
    push_conf(VAPID_PUBLIC_KEY=P256DH)
    assert anon.get(VAPID).json() == {"public_key": P256DH}


# -- the schema -------------------------------------------------------------------------------------


def test_schema_documents_the_viewsets_like_the_views():
    GENERATOR_STATS.reset()
    schema = SchemaGenerator(urlconf="tests.api.router_urls").get_schema(request=None, public=True)
    assert not GENERATOR_STATS, "drf-spectacular reported warnings or errors (see the captured output)"
    validate_schema(schema)
    operations = {
        (path.removeprefix(API), method)
        for path, item in schema["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }
    assert operations == {
        ("devices/", "get"),
        ("devices/", "post"),
        ("devices/{public_id}/", "get"),
        ("devices/{public_id}/", "patch"),
        ("devices/{public_id}/", "delete"),
        ("devices/{public_id}/topics/", "get"),
        ("devices/{public_id}/topics/", "post"),
        ("devices/{public_id}/topics/{topic}/", "delete"),
        ("topics/", "get"),
        ("webpush/subscribe/", "post"),
        ("webpush/unsubscribe/", "post"),
        ("webpush/resubscribe/", "post"),
        ("webpush/vapid-public-key/", "get"),
    }
    join = schema["paths"]["/api/devices/{public_id}/topics/"]["post"]
    assert join["summary"] == "Subscribe a device to a topic (idempotent)"
    assert set(join["responses"]) >= {"200", "201", "400", "429"}
    assert (
        schema["paths"]["/api/webpush/resubscribe/"]["post"]["summary"]
        == "Replace a rotated Web Push subscription"
    )
