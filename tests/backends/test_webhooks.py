"""Webhook backend: Standard Webhooks signatures (checked by the independent ``standardwebhooks``
package), stable ids, answers mapped, and the SSRF rules at send time."""

from __future__ import annotations

import json

import httpx
import pytest

from django_push.backends.webhook_signing import generate_secret, message_id, secret_key, sign
from django_push.backends.webhook_urls import check_addresses, parse_private_hosts, validate_url
from django_push.backends.webhooks import SVIX_SCHEDULE, WebhookBackend
from django_push.exceptions import InvalidTarget, PushConfigurationError
from django_push.message import PushMessage, Target
from django_push.results import DeliveryStatus

from .contract import ScriptableContract

URL = "https://hooks.example.com/receive"
PUBLIC = ["93.184.215.14"]


async def public(host: str, port: int) -> list[str]:
    return PUBLIC


def make(handler, resolver=public, **options) -> WebhookBackend:
    return WebhookBackend(
        alias="webhook", transport=httpx.MockTransport(handler), resolver=resolver, **options
    )


def target(*secrets: str, key: int = 1, url: str = URL) -> Target:
    return Target(url, key=key, secrets=secrets)


MESSAGE = PushMessage(
    title="Invoice paid",
    body="#42",
    data={"invoice": 42},
    dedupe_key="dp-abc",
    overrides={"webhook": {"type": "invoice.paid", "timestamp": "2026-01-01T00:00:00+00:00"}},
)


def verifier():
    """standardwebhooks' Webhook and its error (the test extra: the bare core run skips the tests
    that verify with it; the rule in tests/conftest.py)."""
    module = pytest.importorskip("standardwebhooks.webhooks")
    return module.Webhook, module.WebhookVerificationError


def test_every_signature_verifies_with_standardwebhooks_and_body_is_the_envelope():
    Webhook, WebhookVerificationError = verifier()
    secret = generate_secret()
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    result = make(handler).send(MESSAGE, [target(secret)])[0]
    request = seen[0]
    payload = Webhook(secret).verify(request.content, dict(request.headers))
    assert payload == {
        "type": "invoice.paid",
        "timestamp": "2026-01-01T00:00:00+00:00",
        "data": {"title": "Invoice paid", "body": "#42", "data": {"invoice": 42}},
    }
    assert result.status == DeliveryStatus.SENT and result.message_id == request.headers["webhook-id"]
    with pytest.raises(WebhookVerificationError):
        Webhook(generate_secret()).verify(request.content, dict(request.headers))


def test_two_secrets_sign_twice_and_either_verifies():
    Webhook, _ = verifier()
    new, old = generate_secret(), generate_secret()
    seen: list[httpx.Request] = []
    make(lambda r: seen.append(r) or httpx.Response(200)).send(MESSAGE, [target(new, old)])
    headers = dict(seen[0].headers)
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (new, old):
        assert Webhook(secret).verify(seen[0].content, headers)["type"] == "invoice.paid"


def test_id_is_stable_per_delivery_and_differs_per_endpoint_and_notification():
    assert message_id("dp-1", 7) == message_id("dp-1", 7)
    assert len({message_id("dp-1", 7), message_id("dp-1", 8), message_id("dp-2", 7)}) == 3
    ids: list[str] = []
    backend = make(lambda r: ids.append(r.headers["webhook-id"]) or httpx.Response(503))
    secret = generate_secret()
    backend.send(MESSAGE, [target(secret)])
    backend.send(MESSAGE, [target(secret)])
    assert ids[0] == ids[1] == message_id("dp-abc", 1)


@pytest.mark.parametrize(
    ("answer", "status", "code"),
    [
        (httpx.Response(200), DeliveryStatus.SENT, ""),
        (httpx.Response(410), DeliveryStatus.INVALID_TOKEN, "gone"),
        (httpx.Response(429, headers={"retry-after": "9"}), DeliveryStatus.THROTTLED, "429"),
        (httpx.Response(500), DeliveryStatus.UNAVAILABLE, "500"),
        (httpx.Response(408), DeliveryStatus.UNAVAILABLE, "408"),
        (httpx.Response(400, text="bad"), DeliveryStatus.FAILED, "400"),
        (httpx.Response(404), DeliveryStatus.FAILED, "404"),
        (
            httpx.Response(302, headers={"location": "http://169.254.169.254/"}),
            DeliveryStatus.FAILED,
            "redirect",
        ),
    ],
)
def test_answers(answer, status, code):
    result = make(lambda r: answer).send(MESSAGE, [target(generate_secret())])[0]
    assert (result.status, result.error_code) == (status, code)
    if code == "redirect":
        assert "169.254.169.254" in result.reason and "not followed" in result.reason
    if status == DeliveryStatus.THROTTLED:
        assert result.retry_after == 9.0


def test_timeout_is_retryable():
    def handler(request):
        raise httpx.ReadTimeout("slow", request=request)

    result = make(handler).send(MESSAGE, [target(generate_secret())])[0]
    assert result.status == DeliveryStatus.UNAVAILABLE and result.retryable


def test_a_name_resolving_to_a_private_address_is_refused_at_send():
    calls: list[httpx.Request] = []

    async def rebound(host, port):
        return ["10.0.0.5"]

    result = make(lambda r: calls.append(r) or httpx.Response(200), resolver=rebound).send(
        MESSAGE, [target(generate_secret())]
    )[0]
    assert result.status == DeliveryStatus.REJECTED and result.error_code == "invalid_target"
    assert "10.0.0.5" in result.reason and not calls


def test_no_secret_is_rejected_without_sending():
    calls: list[httpx.Request] = []
    result = make(lambda r: calls.append(r) or httpx.Response(200)).send(MESSAGE, [target()])[0]
    assert result.status == DeliveryStatus.REJECTED and result.error_code == "no_secret" and not calls


def test_secret_never_in_target_repr():
    secret = generate_secret()
    assert secret not in repr(target(secret)) and secret[6:] not in repr(target(secret))


def test_svix_schedule_is_declared():
    assert WebhookBackend.retry_schedule == SVIX_SCHEDULE == (5, 300, 1800, 7200, 18000, 36000, 36000)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://hooks.example.com/x", "must use https"),
        ("https://user:pw@hooks.example.com/x", "user information"),
        ("https://hooks.example.com/x#frag", "fragment"),
        ("https://hooks..example.com/x", "not a valid DNS name"),
        ("https://hooks.example.com/ x", "plain ASCII"),
        ("", "non-empty"),
    ],
)
def test_static_url_rules(url, message):
    with pytest.raises(InvalidTarget, match=message):
        validate_url(url)


def test_url_is_normalized():
    assert validate_url("HTTPS://Hooks.Example.com:443") == (
        "https://hooks.example.com/",
        "hooks.example.com",
        443,
    )
    assert validate_url("https://[::1]:8443/h?a=1")[0] == "https://[::1]:8443/h?a=1"


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "192.168.0.1",
        "172.16.0.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "224.0.0.1",
        "240.0.0.1",
    ],
)
def test_non_public_addresses_are_refused(address):
    with pytest.raises(InvalidTarget, match="private, loopback"):
        check_addresses("hooks.example.com", 443, ["93.184.215.14", address], ())


def test_only_listed_private_hosts_are_allowed():
    allowed = parse_private_hosts(["127.0.0.1:8443"])
    check_addresses("127.0.0.1", 8443, ["127.0.0.1"], allowed)  # listed: allowed
    with pytest.raises(InvalidTarget):
        check_addresses("127.0.0.1", 8444, ["127.0.0.1"], allowed)  # another port is not
    with pytest.raises(PushConfigurationError, match=r'WEBHOOK_ALLOWED_PRIVATE_HOSTS"\]'):
        parse_private_hosts(["127.0.0.1:99999"])


def test_secrets_are_whsec_base64_and_the_signature_matches_the_spec_example():
    secret = generate_secret()
    assert secret.startswith("whsec_") and len(secret_key(secret)) == 32
    assert generate_secret() != secret
    # The example from the Standard Webhooks specification.
    spec = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    assert sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body, [spec]) == (
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )
    with pytest.raises(ValueError):
        secret_key("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")


def test_body_without_overrides_has_default_type():
    seen: list[httpx.Request] = []
    make(lambda r: seen.append(r) or httpx.Response(200), event_type="app.event").send(
        PushMessage(title="t"), [target(generate_secret())]
    )
    assert json.loads(seen[0].content)["type"] == "app.event"


class TestWebhookContract(ScriptableContract):
    """The shared backend contract, each endpoint answering as scripted."""

    answers = {
        DeliveryStatus.INVALID_TOKEN: 410,
        DeliveryStatus.UNAVAILABLE: 503,
        DeliveryStatus.THROTTLED: 429,
        DeliveryStatus.FAILED: 400,  # a receiver's refusal; webhooks have no REJECTED answer
    }

    @property
    def scripted(self) -> dict[str, DeliveryStatus]:
        return self.__dict__.setdefault("_scripted", {})

    def make_targets(self, n: int) -> list[Target]:
        secret = generate_secret()
        return [Target(f"https://hooks.example.com/{i}", key=i, secrets=(secret,)) for i in range(n)]

    def script(self, target: Target, status: DeliveryStatus) -> None:
        self.scripted[target.address] = status

    def make_backend(self, **options):
        def handler(request: httpx.Request) -> httpx.Response:
            status = self.scripted.get(str(request.url))
            return httpx.Response(self.answers[status] if status else 200)

        return make(handler, **options)
