"""Web Push backend: bodies decrypted as a browser would, VAPID verified, every answer mapped."""

from __future__ import annotations

import asyncio
import base64

import httpx
import jwt
import pytest

pytest.importorskip("http_ece")  # the "webpush" extra (see tests/conftest.py)
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from django_push.backends.webpush import WebPushBackend, push_topic, vapid_public_key
from django_push.exceptions import PushAuthError, PushConfigurationError
from django_push.message import PushMessage, Target
from django_push.results import DeliveryStatus

T0 = 1_700_000_000.0
HOST = "updates.push.services.mozilla.com"
ENDPOINT = f"https://{HOST}/wpush/v2/gAAAAABk"

from .fixtures import BROWSER, VAPID_KEY, VAPID_PRIVATE, VAPID_PUBLIC, b64  # noqa: E402


class Service:
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.answers: dict[str, httpx.Response] = {}

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0)
        self.requests.append(request)
        return self.answers.get(str(request.url)) or httpx.Response(
            201, headers={"location": f"https://{request.url.host}/m/1"}
        )


def make_backend(service: Service | None = None, **options) -> WebPushBackend:
    settings = {
        "vapid_private_key": VAPID_PRIVATE,
        "vapid_subject": "mailto:ops@example.com",
        "transport": httpx.MockTransport(service or Service()),
        **options,
    }
    backend = WebPushBackend(alias="webpush", **settings)
    backend.clock = lambda: T0
    return backend


def send(backend: WebPushBackend, message: PushMessage, *targets: Target):
    return backend.send(message, list(targets) or [BROWSER.target()])


def vapid_parts(request: httpx.Request) -> dict[str, str]:
    scheme, _, params = request.headers["authorization"].partition(" ")
    assert scheme == "vapid"
    return dict(part.strip().split("=", 1) for part in params.split(","))


# -- encryption and headers -------------------------------------------------------------------------
def test_body_decrypts_to_the_exact_payload_with_the_subscription_keys():
    service = Service()
    message = PushMessage(
        title="Hello",
        body="World",
        icon="/i.png",
        image="/big.png",
        url="/orders/42",
        collapse_key="orders",
        data={"order": 42},
        overrides={
            "webpush": {"actions": [{"action": "open", "title": "Open", "url": "/o"}], "badge": "/b.png"}
        },
    )
    (result,) = send(make_backend(service), message)
    assert (result.status, result.message_id) == (DeliveryStatus.SENT, f"https://{HOST}/m/1")
    (request,) = service.requests
    assert str(request.url) == ENDPOINT
    assert BROWSER.decrypt(request.content) == {
        "title": "Hello",
        "body": "World",
        "icon": "/i.png",
        "image": "/big.png",
        "url": "/orders/42",
        "tag": "orders",
        "data": {"order": 42},
        "actions": [{"action": "open", "title": "Open", "url": "/o"}],
        "badge": "/b.png",
    }
    headers = {
        k: v for k, v in request.headers.items() if k not in ("authorization", "content-length", "host")
    }
    assert headers == {
        "ttl": "86400",
        "urgency": "normal",
        "content-encoding": "aes128gcm",
        "content-type": "application/octet-stream",
        "topic": "orders",
    }


def test_every_message_uses_a_fresh_ephemeral_key():
    service = Service()
    backend = make_backend(service)
    send(backend, PushMessage(title="t"), BROWSER.target(), BROWSER.target())
    # aes128gcm header: salt(16) rs(4) idlen(1) keyid(65): the sender's ephemeral public key.
    keyids = {r.content[21:86] for r in service.requests}
    salts = {r.content[:16] for r in service.requests}
    assert len(keyids) == 2 and len(salts) == 2
    assert all(BROWSER.decrypt(r.content)["title"] == "t" for r in service.requests)


def test_vapid_header_verifies_with_the_public_key_and_names_the_origin():
    service = Service()
    send(make_backend(service), PushMessage(title="t"))
    parts = vapid_parts(service.requests[0])
    assert parts["k"] == VAPID_PUBLIC
    public = ec.EllipticCurvePublicKey.from_encoded_point(
        ec.SECP256R1(), base64.urlsafe_b64decode(parts["k"] + "==")
    )
    claims = jwt.decode(
        parts["t"], public, algorithms=["ES256"], audience=f"https://{HOST}", options={"verify_exp": False}
    )
    assert claims == {"aud": f"https://{HOST}", "exp": int(T0) + 12 * 3600, "sub": "mailto:ops@example.com"}
    assert jwt.get_unverified_header(parts["t"])["alg"] == "ES256"


def test_vapid_header_is_cached_per_origin_until_an_hour_before_expiry():
    service = Service()
    backend = make_backend(service, allowed_hosts=[HOST, "fcm.googleapis.com", "127.0.0.1:8443"])
    now = [T0]
    backend.clock = lambda: now[0]
    other = BROWSER.target("https://fcm.googleapis.com/fcm/send/abc")
    local = BROWSER.target("https://127.0.0.1:8443/wp/1")
    send(backend, PushMessage(title="t"), BROWSER.target(), other, BROWSER.target(), local)
    by_url = {str(r.url): r.headers["authorization"] for r in service.requests}
    assert len(set(by_url.values())) == 3
    audiences = sorted(
        jwt.decode(vapid_parts(r)["t"], options={"verify_signature": False})["aud"] for r in service.requests
    )
    assert audiences == [
        "https://127.0.0.1:8443",
        "https://fcm.googleapis.com",
        f"https://{HOST}",
        f"https://{HOST}",
    ]
    first = by_url[ENDPOINT]
    now[0] = T0 + 11 * 3600 - 1
    send(backend, PushMessage(title="t"))
    assert service.requests[-1].headers["authorization"] == first
    now[0] = T0 + 11 * 3600 + 1
    send(backend, PushMessage(title="t"))
    assert service.requests[-1].headers["authorization"] != first


@pytest.mark.parametrize(
    ("message_ttl", "option_ttl", "expected"),
    [(None, None, "1234"), (None, 60, "60"), (0, 60, "0"), (30, None, "30")],
)
def test_ttl_message_then_option_then_setting_and_zero_is_kept(settings, message_ttl, option_ttl, expected):
    settings.DJANGO_PUSH = {**settings.DJANGO_PUSH, "WEBPUSH_DEFAULT_TTL": 1234}
    service = Service()
    send(make_backend(service, ttl=option_ttl), PushMessage(title="t", ttl=message_ttl))
    assert service.requests[0].headers["ttl"] == expected


@pytest.mark.parametrize(("priority", "urgency"), [("critical", "high"), ("high", "high"), ("low", "low")])
def test_urgency_from_priority(priority, urgency):
    service = Service()
    send(make_backend(service), PushMessage(title="t", priority=priority))
    assert service.requests[0].headers["urgency"] == urgency


@pytest.mark.parametrize("key", ["chat:room/1", "x" * 33, "émoji"])
def test_topic_is_sanitized_to_32_url_safe_characters(key):
    topic = push_topic(key)
    assert len(topic) <= 32 and all(c.isalnum() or c in "-_" for c in topic)
    assert push_topic(key) == topic != push_topic(key + "!")


def test_plaintext_over_3993_bytes_is_rejected_without_contact():
    service = Service()
    backend = make_backend(service)
    (result,) = send(backend, PushMessage(title="t", data={"x": "y" * 4000}))
    assert (result.status, result.error_code) == (DeliveryStatus.REJECTED, "payload_too_large")
    assert "3993" in result.reason and service.requests == []
    # 3993 bytes exactly still fits in one record.
    fits = PushMessage(title="t", body="b" * (3993 - len(b'{"title":"t","body":""}')))
    assert send(backend, fits)[0].ok
    assert len(BROWSER.decrypt(service.requests[-1].content)["body"]) == 3993 - 23


# -- targets ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "endpoint",
    [
        "https://evil.example.com/wp/1",
        "http://updates.push.services.mozilla.com/wpush/v2/x",
        "https://169.254.169.254/latest/meta-data",
        "https://user@updates.push.services.mozilla.com/wpush/v2/x",
    ],
)
def test_endpoints_outside_the_allow_list_are_rejected_and_never_contacted(endpoint):
    service = Service()
    (result,) = send(make_backend(service), PushMessage(title="t"), BROWSER.target(endpoint))
    assert (result.status, result.error_code) == (DeliveryStatus.REJECTED, "invalid_target")
    assert service.requests == []


def test_allow_list_comes_from_settings_unless_the_option_is_set(settings):
    settings.DJANGO_PUSH = {**settings.DJANGO_PUSH, "WEBPUSH_ALLOWED_HOSTS": ["push.example.net"]}
    service = Service()
    target = BROWSER.target("https://push.example.net/wp/1")
    assert send(make_backend(service), PushMessage(title="t"), target)[0].ok
    assert send(make_backend(service), PushMessage(title="t"))[0].error_code == "invalid_target"
    assert send(make_backend(service, allowed_hosts=[HOST]), PushMessage(title="t"))[0].ok


@pytest.mark.parametrize(
    ("p256dh", "auth"),
    [
        ("", BROWSER.auth_b64),
        (BROWSER.p256dh, ""),
        (b64(b"\x04" + b"\x01" * 64), BROWSER.auth_b64),  # not a point on the curve
        (BROWSER.p256dh[:40], BROWSER.auth_b64),
        (BROWSER.p256dh, b64(b"short")),
        ("***", BROWSER.auth_b64),
    ],
)
def test_malformed_subscription_keys_are_rejected(p256dh, auth):
    service = Service()
    (result,) = send(
        make_backend(service), PushMessage(title="t"), Target(ENDPOINT, p256dh=p256dh, auth=auth)
    )
    assert (result.status, result.error_code) == (DeliveryStatus.REJECTED, "invalid_target")
    assert service.requests == []


# -- answers ----------------------------------------------------------------------------------------
def result_for(response: httpx.Response):
    service = Service()
    service.answers[ENDPOINT] = response
    return send(make_backend(service), PushMessage(title="t"))[0]


@pytest.mark.parametrize(
    ("response", "status", "code"),
    [
        (httpx.Response(200), "sent", ""),
        (httpx.Response(202), "sent", ""),
        (httpx.Response(404, text="not found"), "invalid_token", "404"),
        (httpx.Response(410, text="unsubscribed"), "invalid_token", "410"),
        (httpx.Response(413), "rejected", "payload_too_large"),
        (httpx.Response(400, text="bad TTL"), "rejected", "400"),
        (httpx.Response(301, headers={"location": "http://10.0.0.1/"}), "rejected", "redirect"),
        (httpx.Response(500), "unavailable", "500"),
        (httpx.Response(503), "unavailable", "503"),
    ],
)
def test_answer_mapping(response, status, code):
    result = result_for(response)
    assert (result.status.value, result.error_code, result.status_code) == (
        status,
        code,
        response.status_code,
    )


def test_429_is_throttled_with_retry_after():
    result = result_for(httpx.Response(429, headers={"retry-after": "120"}))
    assert (result.status, result.retry_after) == (DeliveryStatus.THROTTLED, 120.0)


@pytest.mark.parametrize("status", [401, 403])
def test_vapid_refusals_raise(status):
    service = Service()
    service.answers[ENDPOINT] = httpx.Response(status, text="invalid JWT")
    with pytest.raises(PushAuthError, match="VAPID") as info:
        send(make_backend(service), PushMessage(title="t"))
    assert info.value.status_code == status
    assert [r.status for r in info.value.results] == [DeliveryStatus.FAILED]


# -- configuration ----------------------------------------------------------------------------------
def test_private_key_as_pem_is_accepted_and_gives_the_same_public_key():
    pem = VAPID_KEY.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    assert make_backend(vapid_private_key=pem).public_key == VAPID_PUBLIC
    assert vapid_public_key(VAPID_PRIVATE) == vapid_public_key(pem) == VAPID_PUBLIC


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"vapid_private_key": "not-a-key"}, "vapid_private_key"),
        ({"vapid_private_key": ""}, "vapid_private_key"),
        ({"vapid_subject": "ops@example.com"}, "vapid_subject"),
        ({"vapid_subject": "http://example.com"}, "vapid_subject"),
        ({"vapid_expiration": 25 * 3600}, "24 hours"),
        ({"vapid_expiration": 600}, "vapid_expiration"),
        ({"ttl": -1}, "ttl"),
        ({"allowed_hosts": ["*"]}, "allowed_hosts"),
    ],
)
def test_configuration_errors_name_the_setting(options, match):
    with pytest.raises(PushConfigurationError, match=match) as info:
        make_backend(**options)
    assert 'DJANGO_PUSH["BACKENDS"]["webpush"]["OPTIONS"]' in str(info.value)


def test_https_subject_is_accepted():
    assert make_backend(vapid_subject="https://example.com/contact").options["vapid_subject"]


def test_check_credentials_compares_the_public_key_in_settings(settings):
    backend = make_backend()
    settings.DJANGO_PUSH = {**settings.DJANGO_PUSH, "VAPID_PUBLIC_KEY": VAPID_PUBLIC}
    assert "matches" in backend.check_credentials()
    settings.DJANGO_PUSH = {**settings.DJANGO_PUSH, "VAPID_PUBLIC_KEY": BROWSER.p256dh}
    with pytest.raises(PushConfigurationError, match="is not the public key"):
        backend.check_credentials()
    settings.DJANGO_PUSH = {**settings.DJANGO_PUSH, "VAPID_PUBLIC_KEY": ""}
    with pytest.raises(PushConfigurationError, match="is empty") as info:
        backend.check_credentials()
    assert VAPID_PUBLIC in str(info.value)
