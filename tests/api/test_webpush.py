"""webpush/: the browser's subscription as is, anonymous rules, unsubscribe proof, rotation, VAPID key."""

from __future__ import annotations

import pytest
from django.urls import reverse

from django_push.models import Device, Subscription

from ..factories import DeviceFactory, TopicFactory, WebPushDeviceFactory
from .conftest import API, AUTH, ENDPOINT, P256DH, subscription

pytestmark = pytest.mark.django_db

SUBSCRIBE = API + "webpush/subscribe/"
UNSUBSCRIBE = API + "webpush/unsubscribe/"
RESUBSCRIBE = API + "webpush/resubscribe/"
VAPID = API + "webpush/vapid-public-key/"
OTHER_AUTH = "A" * 22
NEW_AUTH = "EREREREREREREREREREREQ"  # 16 bytes of 0x11, canonical base64url
NEW_ENDPOINT = ENDPOINT + "-rotated"


def test_url_names_used_by_the_template_tags():
    assert reverse("django_push:webpush-subscribe") == SUBSCRIBE
    assert reverse("django_push:webpush-unsubscribe") == UNSUBSCRIBE
    assert reverse("django_push:webpush-resubscribe") == RESUBSCRIBE
    assert reverse("django_push:webpush-vapid-public-key") == VAPID


def test_subscribe_with_the_raw_browser_json_then_again(api, user):
    body = {**subscription(), "name": "Firefox", "time_zone": "Europe/Paris"}
    first = api.post(SUBSCRIBE, body, format="json", HTTP_USER_AGENT="Mozilla/5.0 Firefox")
    assert first.status_code == 201, first.json()
    assert first.json()["platform"] == "webpush"
    assert ENDPOINT not in first.content.decode()
    assert api.post(SUBSCRIBE, subscription(), format="json").status_code == 200
    device = Device.objects.get()
    assert (device.owner, device.address, device.p256dh, device.auth) == (user, ENDPOINT, P256DH, AUTH)
    assert (device.name, device.time_zone, device.user_agent) == (
        "Firefox",
        "Europe/Paris",
        "Mozilla/5.0 Firefox",
    )


def test_endpoint_is_normalized_so_spellings_do_not_duplicate(api):
    api.post(SUBSCRIBE, subscription(ENDPOINT), format="json")
    again = api.post(
        SUBSCRIBE,
        subscription(ENDPOINT.replace("fcm.googleapis.com", "FCM.googleapis.com:443")),
        format="json",
    )
    assert again.status_code == 200
    assert Device.objects.count() == 1


def test_application_is_checked_and_used(api, push_conf):
    push_conf(APPLICATIONS={"site-b": {"PLATFORM": "webpush"}})
    assert api.post(SUBSCRIBE, {**subscription(), "application": "site-b"}, format="json").status_code == 201
    assert Device.objects.get().application == "site-b"


def test_anonymous_subscribe_refused_by_default(anon):
    response = anon.post(SUBSCRIBE, subscription(), format="json")
    assert response.status_code in (401, 403)
    assert not Device.objects.exists()


def test_anonymous_subscribe_when_allowed(anon, push_conf):
    push_conf(ALLOW_ANONYMOUS_WEBPUSH=True)
    response = anon.post(SUBSCRIBE, subscription(), format="json")
    assert response.status_code == 201
    assert Device.objects.get().owner is None
    assert anon.post(SUBSCRIBE, subscription(), format="json").status_code == 200
    # The flag opens subscribe and unsubscribe only, never the device list or topics.
    assert anon.get(API + "devices/").status_code in (401, 403)
    assert anon.get(API + "topics/").status_code in (401, 403)
    device_url = f"{API}devices/{Device.objects.get().public_id}/"
    assert anon.get(device_url).status_code in (401, 403)
    assert anon.delete(device_url).status_code in (401, 403)
    assert Device.objects.count() == 1


def test_anonymous_cannot_take_over_an_endpoint_without_its_secret(anon, push_conf, user):
    push_conf(ALLOW_ANONYMOUS_WEBPUSH=True)
    device = WebPushDeviceFactory(owner=user, address=ENDPOINT, p256dh=P256DH, auth=AUTH)
    response = anon.post(SUBSCRIBE, subscription(auth=OTHER_AUTH), format="json")
    assert response.status_code == 400
    assert response.json() == {"keys": {"auth": ["This endpoint is registered with another auth secret."]}}
    device.refresh_from_db()
    assert (device.owner, device.auth) == (user, AUTH)


def test_same_browser_subscribing_anonymously_detaches_it_from_the_user(anon, push_conf, user):
    """After a sign-out, the browser is nobody's: the user's personal notifications stop going there."""
    push_conf(ALLOW_ANONYMOUS_WEBPUSH=True)
    device = WebPushDeviceFactory(owner=user, address=ENDPOINT, p256dh=P256DH, auth=AUTH, name="Alice's PC")
    Subscription.objects.create(device=device, topic=TopicFactory())
    assert anon.post(SUBSCRIBE, subscription(), format="json").status_code == 200
    device.refresh_from_db()
    assert (device.owner, device.name) == (None, "")
    assert not Subscription.objects.filter(device=device).exists()


def test_signed_in_user_claims_an_anonymous_subscription(api, user):
    device = WebPushDeviceFactory(owner=None, address=ENDPOINT, p256dh=P256DH, auth=AUTH)
    assert api.post(SUBSCRIBE, subscription(), format="json").status_code == 200
    device.refresh_from_db()
    assert device.owner == user


def test_owner_unsubscribes_by_endpoint(api, user):
    WebPushDeviceFactory(owner=user, address=ENDPOINT, auth=AUTH)
    assert api.post(UNSUBSCRIBE, {"endpoint": ENDPOINT}, format="json").status_code == 204
    assert not Device.objects.exists()


def test_unsubscribe_accepts_what_push_js_sends(api, user):
    WebPushDeviceFactory(owner=user, address=ENDPOINT, auth=AUTH)
    body = {"endpoint": ENDPOINT, "keys": {"p256dh": P256DH, "auth": AUTH}}
    assert api.post(UNSUBSCRIBE, body, format="json").status_code == 204
    assert not Device.objects.exists()


def test_endpoint_alone_does_not_unsubscribe_someone_else(other_api, user):
    WebPushDeviceFactory(owner=user, address=ENDPOINT, auth=AUTH)
    assert other_api.post(UNSUBSCRIBE, {"endpoint": ENDPOINT}, format="json").status_code == 204
    wrong = {"endpoint": ENDPOINT, "keys": {"auth": OTHER_AUTH}}
    assert other_api.post(UNSUBSCRIBE, wrong, format="json").status_code == 204
    assert Device.objects.filter(owner=user).count() == 1


def test_anonymous_unsubscribe_needs_the_auth_secret(anon, push_conf):
    push_conf(ALLOW_ANONYMOUS_WEBPUSH=True)
    WebPushDeviceFactory(owner=None, address=ENDPOINT, auth=AUTH)
    response = anon.post(UNSUBSCRIBE, {"endpoint": ENDPOINT}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "keys": ["Send the subscription's keys.auth to unsubscribe without signing in."]
    }
    wrong = {"endpoint": ENDPOINT, "keys": {"auth": OTHER_AUTH}}
    assert anon.post(UNSUBSCRIBE, wrong, format="json").status_code == 204
    assert Device.objects.count() == 1
    right = {"endpoint": ENDPOINT, "keys": {"auth": AUTH}}
    assert anon.post(UNSUBSCRIBE, right, format="json").status_code == 204
    assert not Device.objects.exists()


def test_anonymous_unsubscribe_refused_when_anonymous_webpush_is_off(anon):
    WebPushDeviceFactory(owner=None, address=ENDPOINT, auth=AUTH)
    right = {"endpoint": ENDPOINT, "keys": {"auth": AUTH}}
    assert anon.post(UNSUBSCRIBE, right, format="json").status_code in (401, 403)
    assert Device.objects.count() == 1


def test_unsubscribe_validation(api):
    assert api.post(UNSUBSCRIBE, {}, format="json").json() == {"endpoint": ["This field is required."]}
    bad = api.post(UNSUBSCRIBE, {"endpoint": ENDPOINT, "keys": {"auth": "a"}}, format="json")
    assert bad.status_code == 400
    assert bad.json() == {"keys": {"auth": ["The auth secret is not valid base64url."]}}


def test_unsubscribe_of_an_unknown_endpoint_is_204(api):
    assert api.post(UNSUBSCRIBE, {"endpoint": ENDPOINT}, format="json").status_code == 204


def _rotation(old_auth: str = AUTH, new_endpoint: str = NEW_ENDPOINT) -> dict:
    return {
        "old": {"endpoint": ENDPOINT, "keys": {"p256dh": P256DH, "auth": old_auth}},
        "subscription": subscription(new_endpoint, auth=NEW_AUTH),
    }


def test_resubscribe_moves_the_device_keeping_owner_and_topics(anon, user):
    device = WebPushDeviceFactory(owner=user, address=ENDPOINT, p256dh=P256DH, auth=AUTH, active=False)
    Subscription.objects.create(device=device, topic=TopicFactory(name="news"))
    response = anon.post(RESUBSCRIBE, _rotation(), format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["id"] == str(device.public_id)
    device.refresh_from_db()
    assert (device.address, device.auth, device.owner, device.active) == (NEW_ENDPOINT, NEW_AUTH, user, True)
    assert Subscription.objects.filter(device=device, topic__name="news").exists()


def test_resubscribe_merges_into_an_already_registered_new_endpoint(anon, user):
    """The page registered the new subscription before the service worker moved the old one: the
    new row holds the new keys' auth secret, which proves it is this browser's own."""
    old = WebPushDeviceFactory(owner=user, address=ENDPOINT, auth=AUTH)
    new = WebPushDeviceFactory(owner=user, address=NEW_ENDPOINT, auth=NEW_AUTH, p256dh="stale")
    response = anon.post(RESUBSCRIBE, _rotation(), format="json")
    assert response.status_code == 200
    assert response.json()["id"] == str(new.public_id)
    assert not Device.objects.filter(pk=old.pk).exists()
    new.refresh_from_db()
    assert new.auth == NEW_AUTH and new.p256dh == P256DH


def test_resubscribe_cannot_take_over_another_users_subscription(anon, user, django_user_model):
    """The attack: move my own subscription onto the victim's endpoint with my keys. Without the
    victim's auth secret the move is refused and neither row changes (it used to delete my device,
    overwrite the victim's keys with mine and answer with the victim's device id)."""
    victim_user = django_user_model.objects.create_user("victim")
    victim = WebPushDeviceFactory(owner=victim_user, address=NEW_ENDPOINT, auth="IiIiIiIiIiIiIiIiIiIiIg")
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


def test_resubscribe_needs_the_old_auth_secret(anon, user):
    WebPushDeviceFactory(owner=user, address=ENDPOINT, auth=AUTH)
    response = anon.post(RESUBSCRIBE, _rotation(old_auth=OTHER_AUTH), format="json")
    assert response.status_code == 404
    assert response.json() == {"detail": "No subscription matches the old endpoint and auth secret."}
    assert Device.objects.get().address == ENDPOINT


def test_resubscribe_validates_the_new_subscription(anon, user):
    WebPushDeviceFactory(owner=user, address=ENDPOINT, auth=AUTH)
    response = anon.post(RESUBSCRIBE, _rotation(new_endpoint="https://attacker.example/push"), format="json")
    assert response.status_code == 400
    [error] = response.json()["subscription"]["endpoint"]
    assert "'attacker.example' is not a known push service" in error
    assert anon.post(RESUBSCRIBE, {"subscription": subscription()}, format="json").json() == {
        "old": ["This field is required."]
    }


def test_resubscribe_does_not_touch_other_platforms(anon, user):
    DeviceFactory(owner=user, platform="fcm", address=ENDPOINT)
    assert anon.post(RESUBSCRIBE, _rotation(), format="json").status_code == 404


def test_vapid_public_key(anon, push_conf):
    push_conf(VAPID_PUBLIC_KEY=P256DH)
    response = anon.get(VAPID)
    assert response.status_code == 200
    assert response.json() == {"public_key": P256DH}


def test_vapid_public_key_ignores_bad_credentials(anon, push_conf):
    push_conf(VAPID_PUBLIC_KEY=P256DH)
    assert anon.get(VAPID, HTTP_AUTHORIZATION="Basic bm9ib2R5Om5vcGU=").status_code == 200


def test_vapid_public_key_not_configured(anon):
    response = anon.get(VAPID)
    assert response.status_code == 503
    assert response.json() == {
        "detail": "Web Push is not configured: DJANGO_PUSH['VAPID_PUBLIC_KEY'] is empty."
    }
