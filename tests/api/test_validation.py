"""Every validation rule answers 400 with the field's name and a message that says what is expected."""

from __future__ import annotations

import base64

import pytest

from django_push.models import Device

from ..factories import DeviceFactory
from .conftest import API, APNS_TOKEN, AUTH, ENDPOINT, FCM_TOKEN, P256DH, subscription

pytestmark = pytest.mark.django_db

DEVICES = API + "devices/"
SUBSCRIBE = API + "webpush/subscribe/"


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


APNS = {"platform": "apns", "token": APNS_TOKEN}
FCM = {"platform": "fcm", "token": FCM_TOKEN}
WEBPUSH = {"platform": "webpush", "token": ENDPOINT, "p256dh": P256DH, "auth": AUTH}
NOT_ON_CURVE = b64(b"\x04" + b"\x01" * 64)

REGISTRATION_ERRORS = [
    # (body, field, message)
    ({"token": APNS_TOKEN}, "platform", "This field is required."),
    (
        {**APNS, "platform": "blackberry"},
        "platform",
        '"blackberry" is not a platform: use apns, fcm or webpush.',
    ),
    ({"platform": "apns"}, "token", "This field is required."),
    ({**APNS, "token": ""}, "token", "This field may not be blank."),
    (
        {**APNS, "token": "ab" * 31},
        "token",
        "An APNs device token is exactly 64 hexadecimal characters; got 62 characters.",
    ),
    (
        {**APNS, "token": "zz" * 32},
        "token",
        "An APNs device token contains only hexadecimal characters (0-9, a-f).",
    ),
    ({**FCM, "token": "short"}, "token", "An FCM registration token is 32 to 4096 characters long; got 5."),
    (
        {**FCM, "token": FCM_TOKEN + "/<script>"},
        "token",
        "An FCM registration token contains only letters, digits and the characters '_', '-', ':' and '.'.",
    ),
    ({**FCM, "token": "a" * 4097}, "token", "Ensure this field has no more than 4096 characters."),
    (
        {**APNS, "application": "nope"},
        "application",
        "Unknown application 'nope' for apns; configured applications: default.",
    ),
    ({**APNS, "environment": "staging"}, "environment", '"staging" is not a valid choice.'),
    (
        {**FCM, "environment": "sandbox"},
        "environment",
        "Only APNs devices have an environment; leave it out.",
    ),
    (
        {k: v for k, v in WEBPUSH.items() if k != "p256dh"},
        "p256dh",
        "Web Push devices need the subscription's p256dh (keys.p256dh in toJSON()).",
    ),
    (
        {k: v for k, v in WEBPUSH.items() if k != "auth"},
        "auth",
        "Web Push devices need the subscription's auth (keys.auth in toJSON()).",
    ),
    ({**APNS, "p256dh": P256DH}, "p256dh", "Leave p256dh out: only Web Push devices have subscription keys."),
    ({**FCM, "auth": AUTH}, "auth", "Leave auth out: only Web Push devices have subscription keys."),
    (
        {**WEBPUSH, "p256dh": "not base64!"},
        "p256dh",
        "The p256dh key must be base64url-encoded (letters, digits, '-' and '_').",
    ),
    (
        {**WEBPUSH, "p256dh": b64(b"\x04" + b"\x01" * 31)},
        "p256dh",
        "The p256dh key must decode to 65 bytes (an uncompressed P-256 point); got 32 bytes.",
    ),
    (
        {**WEBPUSH, "p256dh": b64(b"\x02" + b"\x01" * 64)},
        "p256dh",
        "The p256dh key must be an uncompressed P-256 point (first byte 0x04).",
    ),
    ({**WEBPUSH, "p256dh": NOT_ON_CURVE}, "p256dh", "The p256dh key is not a point on the P-256 curve."),
    ({**WEBPUSH, "auth": b64(b"\x00" * 8)}, "auth", "The auth secret must decode to 16 bytes; got 8 bytes."),
    ({**WEBPUSH, "auth": "a"}, "auth", "The auth secret is not valid base64url."),
    (
        {**APNS, "locale": "French"},
        "locale",
        "'French' is not a BCP 47 language tag such as 'fr', 'fr-CA' or 'zh-Hant-TW'.",
    ),
    (
        {**APNS, "locale": "fr-CA-"},
        "locale",
        "'fr-CA-' is not a BCP 47 language tag such as 'fr', 'fr-CA' or 'zh-Hant-TW'.",
    ),
    ({**APNS, "locale": "x" * 36}, "locale", "Ensure this field has no more than 35 characters."),
    (
        {**APNS, "time_zone": "Mars/Olympus"},
        "time_zone",
        "'Mars/Olympus' is not an IANA time zone name such as 'Europe/Paris' or 'America/New_York'.",
    ),
    (
        {**APNS, "time_zone": "Europe"},
        "time_zone",
        "'Europe' is not an IANA time zone name such as 'Europe/Paris' or 'America/New_York'.",
    ),
    (
        {**APNS, "time_zone": "../../etc/passwd"},
        "time_zone",
        "'../../etc/passwd' is not an IANA time zone name such as 'Europe/Paris' or 'America/New_York'.",
    ),
    ({**APNS, "name": "n" * 256}, "name", "Ensure this field has no more than 255 characters."),
    ({**APNS, "user_agent": "u" * 513}, "user_agent", "Ensure this field has no more than 512 characters."),
]


# Endpoint rules belong to django_push.backends.webpush_endpoints; these check the API relays its verdict as a
# field error, matching on the part of each message that names the rule.
ENDPOINT_ERRORS = [
    ("http://fcm.googleapis.com/x", "must use https"),
    ("https://evil.example.com/push", "'evil.example.com' is not a known push service"),
    ("https://evilfcm.googleapis.com.evil.net/push", "is not a known push service"),
    ("https://fcm.googleapis.com.evil.net/push", "is not a known push service"),
    ("https://user@fcm.googleapis.com/push", "must not contain user information"),
    ("https://127.0.0.1/push", "'127.0.0.1' is a private or reserved address"),
    ("https://[::1]/push", "private or reserved address"),
    ("https://fcm.googleapis.com:8443/push", "not a known push service"),
]


@pytest.mark.parametrize(("endpoint", "message"), ENDPOINT_ERRORS)
def test_webpush_endpoint_errors(api, endpoint, message):
    response = api.post(DEVICES, {**WEBPUSH, "token": endpoint}, format="json")
    assert response.status_code == 400
    [error] = response.json()["token"]
    assert message in error
    assert not Device.objects.exists()


def test_endpoint_allow_list_is_read_from_settings(api, push_conf):
    push_conf(WEBPUSH_ALLOWED_HOSTS=["push.example.net"])
    assert (
        api.post(DEVICES, {**WEBPUSH, "token": "https://push.example.net/s/1"}, format="json").status_code
        == 201
    )
    refused = api.post(DEVICES, WEBPUSH, format="json")
    assert refused.status_code == 400
    assert "not a known push service" in refused.json()["token"][0]


@pytest.mark.parametrize(("body", "field", "message"), REGISTRATION_ERRORS)
def test_registration_field_errors(api, body, field, message):
    response = api.post(DEVICES, body, format="json")
    assert response.status_code == 400
    assert response.json()[field] == [message]
    assert not Device.objects.exists()


def test_all_field_errors_come_at_once(api):
    body = {"platform": "fcm", "token": "x", "application": "nope", "environment": "sandbox", "auth": AUTH}
    response = api.post(DEVICES, body, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"token", "application", "environment", "auth"}


@pytest.mark.parametrize(
    ("given", "stored"),
    [("fr", "fr"), ("fr_ca", "fr-CA"), ("ZH-hant-tw", "zh-Hant-TW"), ("es-419", "es-419"), ("", "")],
)
def test_locale_is_normalized(api, given, stored):
    assert api.post(DEVICES, {**APNS, "locale": given}, format="json").status_code == 201
    assert Device.objects.get().locale == stored


def test_keys_are_stored_unpadded(api):
    assert (
        api.post(DEVICES, {**WEBPUSH, "p256dh": P256DH + "=", "auth": AUTH + "=="}, format="json").status_code
        == 201
    )
    device = Device.objects.get()
    assert (device.p256dh, device.auth) == (P256DH, AUTH)


SUBSCRIBE_ERRORS = [
    ({"keys": {"p256dh": P256DH, "auth": AUTH}}, ["endpoint"], "This field is required."),
    ({"endpoint": ENDPOINT}, ["keys"], "This field is required."),
    ({**subscription(), "keys": {"auth": AUTH}}, ["keys", "p256dh"], "This field is required."),
    (
        subscription(p256dh=NOT_ON_CURVE),
        ["keys", "p256dh"],
        "The p256dh key is not a point on the P-256 curve.",
    ),
    (
        subscription(auth=b64(b"\x00" * 15)),
        ["keys", "auth"],
        "The auth secret must decode to 16 bytes; got 15 bytes.",
    ),
    ({**subscription(), "expirationTime": "soon"}, ["expirationTime"], "A valid number is required."),
    (
        {**subscription(), "application": "nope"},
        ["application"],
        "Unknown application 'nope' for webpush; configured applications: default.",
    ),
    (
        {**subscription(), "time_zone": "Nowhere"},
        ["time_zone"],
        "'Nowhere' is not an IANA time zone name such as 'Europe/Paris' or 'America/New_York'.",
    ),
    ({**subscription(), "name": "n" * 256}, ["name"], "Ensure this field has no more than 255 characters."),
]


@pytest.mark.parametrize(("body", "path", "message"), SUBSCRIBE_ERRORS)
def test_webpush_subscribe_field_errors(api, body, path, message):
    response = api.post(SUBSCRIBE, body, format="json")
    assert response.status_code == 400
    error = response.json()
    for key in path:
        error = error[key]
    assert error == [message]


def test_webpush_subscribe_endpoint_error(api):
    response = api.post(SUBSCRIBE, subscription("ftp://fcm.googleapis.com/x"), format="json")
    assert response.status_code == 400
    [error] = response.json()["endpoint"]
    assert "must use https" in error


def test_patch_field_errors(api, user):
    fcm = DeviceFactory(owner=user, platform="fcm", address=FCM_TOKEN)
    url = f"{DEVICES}{fcm.public_id}/"
    for body, field, message in [
        ({"environment": "sandbox"}, "environment", "Only APNs devices have an environment; leave it out."),
        (
            {"locale": "english"},
            "locale",
            "'english' is not a BCP 47 language tag such as 'fr', 'fr-CA' or 'zh-Hant-TW'.",
        ),
        (
            {"time_zone": "Central Europe"},
            "time_zone",
            "'Central Europe' is not an IANA time zone name such as 'Europe/Paris' or 'America/New_York'.",
        ),
        ({"name": "n" * 256}, "name", "Ensure this field has no more than 255 characters."),
    ]:
        response = api.patch(url, body, format="json")
        assert response.status_code == 400, body
        assert response.json() == {field: [message]}


def test_oversized_body_is_refused_with_413(api):
    response = api.post(DEVICES, {**APNS, "name": "n" * 17_000}, format="json")
    assert response.status_code == 413
    assert response.json() == {"detail": "The request body is larger than 16384 bytes."}
    assert not Device.objects.exists()


def test_malformed_json_is_a_400(api):
    response = api.post(DEVICES, b'{"platform": ', content_type="application/json")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error")


def test_json_that_is_not_an_object_is_a_400(api):
    response = api.post(DEVICES, ["apns"], format="json")
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}


def test_form_encoded_body_is_refused_with_415(api):
    response = api.post(DEVICES, {"platform": "apns", "token": APNS_TOKEN})
    assert response.status_code == 415
    assert "Unsupported media type" in response.json()["detail"]


QUIET = API + "preferences/quiet-hours/"


@pytest.mark.parametrize("given", ["22:00+02:00", "22:00:00-05:00", "22:00Z", "22:00:00.5+0100"])
def test_quiet_hours_with_an_offset_are_refused(api, user, given):
    """An offset used to be dropped silently (22:00+02:00 stored as 22:00 in the user's zone)."""
    from django_push.models.preferences import QuietHours

    response = api.put(QUIET, {"start": given, "end": "07:00", "time_zone": "Europe/Paris"}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "start": [
            "Give a local time without an offset, e.g. 22:00; "
            "say which zone in the time_zone field (e.g. Europe/Paris)."
        ]
    }
    assert not QuietHours.objects.filter(user=user).exists()
    ok = api.put(QUIET, {"start": "22:00", "end": "07:00:30", "time_zone": "Europe/Paris"}, format="json")
    assert ok.status_code == 200, ok.json()


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://fcm.googleapis.com/fcm/send/",
        "https://fcm.googleapis.com/fcm/send",
        "https://fcm.googleapis.com/fcm/send//",
        "https://fcm.googleapis.com/wp/",
        "https://fcm.googleapis.com/",
        "https://updates.push.services.mozilla.com/wpush/v2/",
        "https://updates.push.services.mozilla.com/wpush/v1/",
        "https://web.push.apple.com/",
        "https://web.push.apple.com",
        "https://wns2-par02p.notify.windows.com/w/?token=",
        "https://wns2-par02p.notify.windows.com/w/",
    ],
)
def test_an_endpoint_without_a_subscription_id_is_refused(api, push_conf, endpoint):
    push_conf(
        WEBPUSH_ALLOWED_HOSTS=[
            "fcm.googleapis.com",
            "updates.push.services.mozilla.com",
            "web.push.apple.com",
            "*.notify.windows.com",
        ]
    )
    response = api.post(SUBSCRIBE, subscription(endpoint), format="json")
    assert response.status_code == 400
    [error] = response.json()["endpoint"]
    assert "has no subscription id" in error
    assert not Device.objects.exists()
