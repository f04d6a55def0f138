"""Payload previews: rendered by the configured backends when they are real, approximate otherwise;
never showing a credential."""

import base64
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from django_push.admin import preview
from django_push.backends.apns import APNsBackend
from django_push.message import PushMessage

from .test_broadcast import post

pytestmark = pytest.mark.django_db

APNS_KEY = (
    ec.generate_private_key(ec.SECP256R1())
    .private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    .decode()
)
FCM_KEY = (
    rsa.generate_private_key(public_exponent=65537, key_size=2048)
    .private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    .decode()
)
VAPID_KEY = (
    base64.urlsafe_b64encode(
        ec.generate_private_key(ec.SECP256R1()).private_numbers().private_value.to_bytes(32, "big")
    )
    .rstrip(b"=")
    .decode()
)
APNS_OPTIONS = {"team_id": "TEAM123456", "key_id": "KEY1234567", "key": APNS_KEY, "topic": "com.example.app"}


@pytest.fixture
def real_backends(settings):
    settings.DJANGO_PUSH = {
        **settings.DJANGO_PUSH,
        "BACKENDS": {
            "apns": {"BACKEND": "django_push.backends.apns.APNsBackend", "OPTIONS": APNS_OPTIONS},
            "fcm": {
                "BACKEND": "django_push.backends.fcm.FCMBackend",
                "OPTIONS": {
                    "project_id": "demo-project",
                    "credentials": {
                        "type": "service_account",
                        "client_email": "push@demo-project.iam.gserviceaccount.com",
                        "private_key": FCM_KEY,
                        "private_key_id": "kid-1",
                        "token_uri": "https://oauth2.googleapis.com/token",
                    },
                },
            },
            "webpush": {
                "BACKEND": "django_push.backends.webpush.WebPushBackend",
                "OPTIONS": {"vapid_private_key": VAPID_KEY, "vapid_subject": "mailto:ops@example.com"},
            },
        },
    }


def test_real_backends_render_exact_payloads(real_backends):
    pytest.importorskip("google.auth")  # the "fcm" extra (see tests/conftest.py)
    pytest.importorskip("http_ece")  # the "webpush" extra
    message = PushMessage(title="Hi", body="there", data={"n": 1}, collapse_key="c1")
    previews = {p.platform: p for p in preview.render_all(message)}
    assert all(p.exact and p.ok for p in previews.values()), [p.problem for p in previews.values()]
    # APNs: the very body the backend would send.
    body, _ = APNsBackend(alias="apns", **APNS_OPTIONS).encode(message)
    assert previews["apns"].size == len(body)
    assert json.loads(previews["apns"].payload) == json.loads(body)
    assert previews["apns"].headers["apns-collapse-id"] == "c1"
    # FCM: the message without its target; Web Push: the plaintext the service worker gets.
    assert "token" not in json.loads(previews["fcm"].payload)
    assert json.loads(previews["fcm"].payload)["data"] == {"n": "1"}
    assert json.loads(previews["webpush"].payload) == {
        "title": "Hi",
        "body": "there",
        "tag": "c1",
        "data": {"n": 1},
    }
    for p in previews.values():
        assert "authorization" not in {k.lower() for k in p.headers}


def test_real_backend_size_limit(real_backends):
    p = preview.render(PushMessage(title="t", body="z" * 4100), "apns")
    assert p.exact and p.over_limit and not p.ok
    assert "APNs payload is" in p.problem and "4096" in p.problem
    voip = preview.render(PushMessage(title="t", body="z" * 4100, push_type="voip"), "apns")
    assert voip.ok and voip.limit == 5120


def test_preview_page_never_shows_credentials(admin_client, real_backends):
    from django_push.models import Topic

    Topic.objects.create(name="news")
    response = post(admin_client, topics=["news"])
    assert response.context["step"] == "preview"
    html = response.content.decode()
    assert "rendered by the configured backend" in html
    for secret in ("BEGIN PRIVATE KEY", VAPID_KEY, "TEAM123456", "bearer", "Bearer", "vapid t="):
        assert secret not in html


def test_unconfigured_platform_falls_back_to_an_approximate_rendering(settings):
    settings.DJANGO_PUSH = {**settings.DJANGO_PUSH, "BACKENDS": {}}
    p = preview.render(
        PushMessage(title="Hi", data={"a": [1]}, overrides={"apns": {"aps": {"badge": 2}}}), "apns"
    )
    assert not p.exact and p.ok
    assert "has no backend for platform 'apns'" in p.note
    assert json.loads(p.payload) == {"aps": {"alert": {"title": "Hi"}, "badge": 2}, "a": [1]}
    fcm = preview.render(PushMessage(title="Hi", data={"a": [1]}, ttl=60), "fcm")
    assert json.loads(fcm.payload)["data"] == {"a": "[1]"}
    assert json.loads(fcm.payload)["android"]["ttl"] == "60s"


def test_misconfigured_backend_is_named_without_its_options(settings):
    bad = {**APNS_OPTIONS, "token_ttl": 5}  # refused by the backend's own checks
    settings.DJANGO_PUSH = {
        **settings.DJANGO_PUSH,
        "BACKENDS": {"apns": {"BACKEND": "django_push.backends.apns.APNsBackend", "OPTIONS": bad}},
    }
    p = preview.render(PushMessage(title="Hi"), "apns")
    assert not p.exact and p.ok
    assert p.note == "The apns backend cannot be built (PushConfigurationError); run manage.py check."
    assert "TEAM123456" not in p.note and "PRIVATE KEY" not in p.note


def test_locmem_needs_no_note():
    p = preview.render(PushMessage(title="Hi"), "webpush")
    assert (p.exact, p.note, p.ok) == (False, "", True)
