"""APNs backend: exact requests, every answer mapping, and the shared provider-token cache."""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
import threading
import time
import uuid

import httpx
import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache

from django_push.backends import apns_tokens
from django_push.backends.apns import APNsBackend
from django_push.backends.apns_tokens import _ProviderTokens, jwt_mint_count, provider_tokens
from django_push.exceptions import PushAuthError, PushConfigurationError
from django_push.message import PushMessage, Target
from django_push.results import DeliveryStatus
from django_push.transport.loop import run

from .fixtures import KEY_PEM, SIGNING_KEY, ec_key, pem

T0 = 1_700_000_000.0
TOKEN = "ab" * 32


_baseline = [0]


@pytest.fixture(autouse=True)
def _fresh_tokens():
    provider_tokens.clear()
    _baseline[0] = jwt_mint_count()
    yield
    provider_tokens.clear()


def mints() -> int:
    """Provider tokens minted by this test (the process-wide counter only grows)."""
    return jwt_mint_count() - _baseline[0]


class Service:
    """A scripted APNs: records requests; answers 200 unless told otherwise per token."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.answers: dict[str, httpx.Response] = {}
        self.refuse_tokens: set[str] = set()
        self.refuse_all = False
        self.too_many_updates: set[str] = set()  # JWTs answered 429 TooManyProviderTokenUpdates

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        jwt_token = request.headers.get("authorization", "")[7:]
        if self.refuse_all or jwt_token in self.refuse_tokens:
            return httpx.Response(403, json={"reason": "ExpiredProviderToken"})
        if jwt_token in self.too_many_updates:
            return httpx.Response(429, json={"reason": "TooManyProviderTokenUpdates"})
        token = request.url.path.rsplit("/", 1)[-1]
        return self.answers.get(token) or httpx.Response(200, headers={"apns-id": f"id-{token[:4]}"})

    async def respond(self, request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0)  # like a network: every stream is in flight before any answer
        return self(request)


def make_backend(service: Service, **options) -> APNsBackend:
    settings = {
        "team_id": "TEAM123456",
        "key_id": "KEY1234567",
        "key": KEY_PEM,
        "topic": "com.example.app",
        "transport": httpx.MockTransport(service.respond),
        **options,
    }
    backend = APNsBackend(alias="apns", **settings)
    backend.clock = lambda: T0
    return backend


def send(backend: APNsBackend, message: PushMessage, *targets: Target):
    return backend.send(message, list(targets) or [Target(TOKEN)])


def apns_headers(request: httpx.Request) -> dict[str, str]:
    return {k: v for k, v in request.headers.items() if k.startswith("apns-")}


# -- requests ---------------------------------------------------------------------------------------
def test_alert_request_exact_headers_and_body():
    service = Service()
    message = PushMessage(
        title="Hello",
        body="World",
        badge=3,
        sound="ping.caf",
        thread_id="chat-1",
        category="REPLY",
        mutable_content=True,
        relevance_score=0.5,
        ttl=3600,
        collapse_key="chat-1",
        title_loc_key="T",
        title_loc_args=["a"],
        loc_key="B",
        loc_args=["b"],
        data={"order": 42, "aps": "ignored"},
        url="https://example.com/o/42",
    )
    results = send(make_backend(service), message)
    assert results[0].status == DeliveryStatus.SENT and results[0].message_id == "id-abab"
    (request,) = service.requests
    assert request.method == "POST"
    assert str(request.url) == f"https://api.push.apple.com/3/device/{TOKEN}"
    assert apns_headers(request) == {
        "apns-push-type": "alert",
        "apns-topic": "com.example.app",
        "apns-priority": "10",
        "apns-expiration": str(int(T0) + 3600),
        "apns-collapse-id": "chat-1",
    }
    assert request.headers["authorization"].startswith("bearer ey")
    assert request.content == (
        b'{"aps":{"alert":{"title":"Hello","body":"World","title-loc-key":"T","title-loc-args":["a"],'
        b'"loc-key":"B","loc-args":["b"]},"badge":3,"sound":"ping.caf","thread-id":"chat-1",'
        b'"category":"REPLY","mutable-content":1,"relevance-score":0.5},"order":42,'
        b'"url":"https://example.com/o/42"}'
    )


def test_sandbox_devices_go_to_the_sandbox_host_and_urls_are_options():
    service = Service()
    backend = make_backend(service, sandbox_url="https://sandbox.test/", production_url="https://prod.test")
    send(backend, PushMessage(title="t"), Target(TOKEN, environment="sandbox"), Target(TOKEN))
    assert sorted(str(r.url) for r in service.requests) == [
        f"https://prod.test/3/device/{TOKEN}",
        f"https://sandbox.test/3/device/{TOKEN}",
    ]


@pytest.mark.parametrize(
    ("push_type", "topic"),
    [
        ("alert", "com.example.app"),
        ("voip", "com.example.app.voip"),
        ("complication", "com.example.app.complication"),
        ("fileprovider", "com.example.app.pushkit.fileprovider"),
        ("liveactivity", "com.example.app.push-type.liveactivity"),
        ("pushtotalk", "com.example.app.voip-ptt"),
        ("location", "com.example.app.location-query"),
        ("widgets", "com.example.app.push-type.widgets"),
        ("controls", "com.example.app.push-type.controls"),
        ("mdm", "com.example.app"),
    ],
)
def test_topic_suffix_per_push_type(push_type, topic):
    service = Service()
    send(make_backend(service), PushMessage(title="t", push_type=push_type))
    assert apns_headers(service.requests[0])["apns-topic"] == topic
    assert apns_headers(service.requests[0])["apns-push-type"] == push_type


@pytest.mark.parametrize(
    "message",
    [
        PushMessage(push_type="background", title="ignored", badge=1, sound="x"),
        PushMessage(content_available=True, data={"sync": 1}),  # content-only "alert" becomes background
    ],
)
def test_background_push_has_priority_5_and_no_alert(message):
    service = Service()
    send(make_backend(service), message)
    request = service.requests[0]
    assert apns_headers(request)["apns-push-type"] == "background"
    assert apns_headers(request)["apns-priority"] == "5"
    assert json.loads(request.content)["aps"] == {"content-available": 1}


@pytest.mark.parametrize(
    ("priority", "apns_priority", "level"),
    [
        ("critical", "10", "critical"),
        ("high", "10", "time-sensitive"),
        ("normal", "10", None),
        ("low", "5", "passive"),
    ],
)
def test_priority_table(priority, apns_priority, level):
    service = Service()
    send(make_backend(service), PushMessage(title="t", priority=priority))
    assert apns_headers(service.requests[0])["apns-priority"] == apns_priority
    assert json.loads(service.requests[0].content)["aps"].get("interruption-level") == level


def test_critical_sound_becomes_the_critical_dict_and_explicit_dicts_pass_through():
    service = Service()
    backend = make_backend(service)
    send(backend, PushMessage(title="t", priority="critical", sound="alarm.caf"))
    send(backend, PushMessage(title="t", sound={"critical": 1, "name": "x", "volume": 0.3}))
    sounds = [json.loads(r.content)["aps"]["sound"] for r in service.requests]
    assert sounds == [
        {"critical": 1, "name": "alarm.caf", "volume": 1.0},
        {"critical": 1, "name": "x", "volume": 0.3},
    ]


@pytest.mark.parametrize(("ttl", "expected"), [(0, "0"), (None, None), (60, str(int(T0) + 60))])
def test_expiration_header(ttl, expected):
    service = Service()
    send(make_backend(service), PushMessage(title="t", ttl=ttl))
    assert apns_headers(service.requests[0]).get("apns-expiration") == expected


def test_overrides_are_deep_merged_and_none_deletes():
    service = Service()
    message = PushMessage(
        title="t",
        badge=2,
        overrides={"apns": {"aps": {"badge": None, "alert": {"subtitle": "s"}}, "extra": [1]}},
    )
    send(make_backend(service), message)
    assert json.loads(service.requests[0].content) == {
        "aps": {"alert": {"title": "t", "subtitle": "s"}},
        "extra": [1],
    }


def test_payload_over_4096_bytes_is_rejected_but_voip_allows_5120():
    service = Service()
    backend = make_backend(service)
    big = PushMessage(title="t", data={"blob": "x" * 4500})
    (result,) = send(backend, big)
    assert result.status == DeliveryStatus.REJECTED and result.error_code == "payload_too_large"
    assert "4096" in result.reason and "APNs payload is 45" in result.reason
    assert service.requests == []
    (voip,) = send(backend, PushMessage(push_type="voip", data={"blob": "x" * 4500}))
    assert voip.status == DeliveryStatus.SENT


def test_collapse_id_over_64_bytes_is_rejected_without_contacting_apns():
    service = Service()
    (result,) = send(make_backend(service), PushMessage(title="t", collapse_key="é" * 33))
    assert (result.status, result.error_code) == (DeliveryStatus.REJECTED, "collapse_id_too_long")
    assert "66 bytes" in result.reason and service.requests == []


def test_unknown_push_type_and_malformed_device_token_are_rejected_without_contact():
    service = Service()
    backend = make_backend(service)
    (bad_type,) = send(backend, PushMessage(title="t", push_type="banner"))
    (bad_token,) = send(backend, PushMessage(title="t"), Target("../../3/other?x=1"))
    assert (bad_type.status, bad_type.error_code) == (DeliveryStatus.REJECTED, "invalid_push_type")
    assert (bad_token.status, bad_token.error_code) == (DeliveryStatus.REJECTED, "invalid_target")
    assert service.requests == []


# -- answers ----------------------------------------------------------------------------------------
def answer(status: int, reason: str | None = None, headers: dict | None = None, **body) -> httpx.Response:
    if reason is not None:
        body["reason"] = reason
    return httpx.Response(status, json=body if body else None, headers=headers)


def result_for(response: httpx.Response):
    service = Service()
    service.answers[TOKEN] = response
    return send(make_backend(service), PushMessage(title="t"))[0]


def test_200_is_sent_with_the_apns_id():
    result = result_for(httpx.Response(200, headers={"apns-id": "ABC-123"}))
    assert (result.status, result.message_id) == (DeliveryStatus.SENT, "ABC-123")


def test_410_unregistered_is_invalid_since_the_timestamp():
    result = result_for(answer(410, "Unregistered", timestamp=1_700_000_123_456))
    assert result.status == DeliveryStatus.INVALID_TOKEN and result.error_code == "Unregistered"
    assert result.invalid_since == datetime.datetime(
        2023, 11, 14, 22, 15, 23, 456000, tzinfo=datetime.timezone.utc
    )
    assert result.invalid_since.tzinfo is not None


@pytest.mark.parametrize("reason", ["BadDeviceToken", "DeviceTokenNotForTopic"])
def test_400_bad_token_reasons_are_invalid_token(reason):
    result = result_for(answer(400, reason))
    assert (result.status, result.error_code, result.invalid_since) == (
        DeliveryStatus.INVALID_TOKEN,
        reason,
        None,
    )


@pytest.mark.parametrize(("headers", "retry_after"), [({"retry-after": "30"}, 30.0), (None, None)])
def test_429_is_throttled_with_retry_after(headers, retry_after):
    result = result_for(answer(429, "TooManyRequests", headers=headers))
    assert (result.status, result.retry_after, result.error_code) == (
        DeliveryStatus.THROTTLED,
        retry_after,
        "TooManyRequests",
    )
    assert result.retryable


@pytest.mark.parametrize(("status", "reason"), [(500, "InternalServerError"), (503, "ServiceUnavailable")])
def test_5xx_is_unavailable(status, reason):
    result = result_for(answer(status, reason))
    assert (result.status, result.error_code, result.status_code) == (
        DeliveryStatus.UNAVAILABLE,
        reason,
        status,
    )


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (403, "InvalidProviderToken"),
        (403, "MissingProviderToken"),
        (403, "BadCertificate"),
        (403, "BadCertificateEnvironment"),
        (403, "BadEnvironmentKeyIdInToken"),
        (403, "BadEnvironmentKeyInToken"),
        (403, "UnrelatedKeyIdInToken"),
        (403, "Forbidden"),
        (400, "TopicDisallowed"),
        (400, "BadTopic"),
        (400, "MissingTopic"),
        (403, None),
    ],
)
def test_credential_answers_raise_push_auth_error_with_every_target_recorded(status, reason):
    service = Service()
    service.answers[TOKEN] = answer(status, reason)
    with pytest.raises(PushAuthError) as info:
        send(make_backend(service), PushMessage(title="t"), Target(TOKEN), Target(TOKEN))
    assert info.value.reason == (reason or "403") and info.value.status_code == status
    assert str(reason or 403) in str(info.value)
    assert [r.status for r in info.value.results] == [DeliveryStatus.FAILED] * 2


@pytest.mark.parametrize(
    ("status", "reason"),
    [(400, "BadExpirationDate"), (413, "PayloadTooLarge"), (404, "BadPath"), (400, None)],
)
def test_other_4xx_are_rejected_with_the_reason_kept(status, reason):
    result = result_for(answer(status, reason))
    assert result.status == DeliveryStatus.REJECTED and not result.retryable
    assert result.error_code == (reason or str(status))
    assert f"APNs answered {status}" in result.reason


# -- provider tokens --------------------------------------------------------------------------------
def test_provider_token_is_es256_with_kid_iss_and_iat():
    service = Service()
    send(make_backend(service), PushMessage(title="t"))
    token = service.requests[0].headers["authorization"][len("bearer ") :]
    assert jwt.get_unverified_header(token) == {"alg": "ES256", "kid": "KEY1234567", "typ": "JWT"}
    claims = jwt.decode(token, SIGNING_KEY.public_key(), algorithms=["ES256"], options={"verify_iat": False})
    assert claims == {"iss": "TEAM123456", "iat": int(T0)}


def test_one_token_is_shared_by_every_instance_and_batch():
    service = Service()
    first, second = make_backend(service), make_backend(service)
    for backend in (first, second, first):
        send(backend, PushMessage(title="t"), Target(TOKEN), Target("cd" * 32))
    assert mints() == 1
    assert len({r.headers["authorization"] for r in service.requests}) == 1


def test_token_is_reused_for_token_ttl_and_never_reminted_within_20_minutes():
    service = Service()
    backend = make_backend(service, token_ttl=1500)
    now = [T0]
    backend.clock = lambda: now[0]
    tokens = []
    for offset in (0, 1499, 1500, 1500 + 600):
        now[0] = T0 + offset
        send(backend, PushMessage(title="t"))
        tokens.append(service.requests[-1].headers["authorization"])
    assert tokens[0] == tokens[1] != tokens[2] == tokens[3]
    assert mints() == 2
    # invalidate() asks for a new token, but Apple allows one only 20 minutes after the last.
    provider_tokens.invalidate()
    now[0] = T0 + 1500 + 1199
    send(backend, PushMessage(title="t"))
    assert mints() == 2 and service.requests[-1].headers["authorization"] == tokens[2]
    now[0] = T0 + 1500 + 1200
    send(backend, PushMessage(title="t"))
    assert mints() == 3


def test_expired_provider_token_is_reminted_once_and_each_target_retried_once():
    service = Service()
    backend = make_backend(service)
    send(backend, PushMessage(title="warm-up"))
    old = service.requests[-1].headers["authorization"][7:]
    service.refuse_tokens.add(old)
    service.requests.clear()
    targets = [Target(f"{i:064x}") for i in range(6)]
    results = send(backend, PushMessage(title="t"), *targets)
    assert [r.status for r in results] == [DeliveryStatus.SENT] * 6
    assert mints() == 2  # one re-mint, however many streams saw the refusal
    assert len(service.requests) == 12  # each target: refused once, retried once
    new_tokens = {r.headers["authorization"][7:] for r in service.requests} - {old}
    assert len(new_tokens) == 1


def test_token_refused_again_after_reminting_raises_with_a_clock_hint():
    service = Service()
    backend = make_backend(service)
    service.refuse_all = True
    with pytest.raises(PushAuthError, match="clock") as info:
        send(backend, PushMessage(title="t"), *[Target(f"{i:064x}") for i in range(4)])
    assert info.value.reason == "ExpiredProviderToken"
    assert mints() == 2  # not one per stream: a refusal right after a mint is a clock problem
    assert len(service.requests) == 8


def test_concurrent_async_batches_share_one_token():
    service = Service()
    backend = make_backend(service)

    async def go():
        async with backend:
            await asyncio.gather(
                *(backend.asend(PushMessage(title=str(i)), [Target(TOKEN)]) for i in range(5))
            )

    asyncio.run(go())
    assert mints() == 1


# -- provider tokens across processes ---------------------------------------------------------------
# A "process" is a backend with its own _ProviderTokens (the process-local state); processes share a
# LocMem cache under one LOCATION, as workers share Redis.
BEARER = len("bearer ")


@pytest.fixture
def shared_cache(settings) -> str:
    settings.CACHES = {
        **settings.CACHES,
        "push-tokens": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"push-tokens-{uuid.uuid4()}",
        },
        "push-down": {"BACKEND": "tests.backends.test_apns.UnreachableCache"},
    }
    return "push-tokens"


class UnreachableCache(BaseCache):
    """A cache whose server is down: every call raises, as a Redis client does."""

    def __init__(self, location: str, params: dict) -> None:
        super().__init__(params)

    def _down(self, *args, **kwargs):
        raise ConnectionError("Error 111 connecting to redis:6379. Connection refused.")

    get = add = set = delete = delete_many = _down


def process(service: Service, cache: str | None, **options) -> APNsBackend:
    backend = make_backend(service, token_cache=cache, **options)
    backend.tokens = _ProviderTokens()
    return backend


def bearers(service: Service) -> list[str]:
    return [r.headers["authorization"][BEARER:] for r in service.requests]


def mint_local(backend: APNsBackend) -> str:
    """A token minted by ``backend``'s process alone (as when it could not reach the cache)."""
    return backend.tokens.get(
        "TEAM123456", "KEY1234567", SIGNING_KEY, ttl=3000.0, now=backend.clock(), cache=None
    )


def test_processes_sharing_a_cache_mint_one_token_and_store_no_key(shared_cache):
    service = Service()
    first, second = process(service, shared_cache), process(service, shared_cache)
    send(first, PushMessage(title="t"))
    send(second, PushMessage(title="t"), Target(TOKEN), Target("cd" * 32))
    assert (first.tokens.mints, second.tokens.mints) == (1, 0)
    assert len(set(bearers(service))) == 1
    stored = caches[shared_cache].get(apns_tokens.shared_token_key("TEAM123456", "KEY1234567"))
    assert stored == {"token": bearers(service)[0], "iat": T0, "after_refusal": False, "stale": False}
    assert KEY_PEM.splitlines()[1] not in repr(stored)


def test_without_a_shared_cache_each_process_mints_its_own():
    service = Service()
    first, second = process(service, None), process(service, None)
    send(first, PushMessage(title="t"))
    send(second, PushMessage(title="t"))
    assert (first.tokens.mints, second.tokens.mints) == (1, 1)
    assert len(set(bearers(service))) == 2


def test_the_shared_token_is_replaced_after_token_ttl_by_one_process(shared_cache):
    service = Service()
    now = [T0]
    first, second = process(service, shared_cache), process(service, shared_cache)
    for backend in (first, second):
        backend.clock = lambda: now[0]
    send(first, PushMessage(title="t"))
    send(second, PushMessage(title="t"))
    now[0] = T0 + 3000
    send(second, PushMessage(title="t"))
    send(first, PushMessage(title="t"))
    tokens = bearers(service)
    assert tokens[0] == tokens[1] != tokens[2] == tokens[3]
    assert (first.tokens.mints, second.tokens.mints) == (1, 1)


def test_racing_processes_mint_once_and_the_losers_adopt_the_winners_token(shared_cache, monkeypatch):
    mint = apns_tokens.mint_provider_token

    def slow_mint(*args):
        time.sleep(0.2)  # the race is lost while the winner signs
        return mint(*args)

    monkeypatch.setattr(apns_tokens, "mint_provider_token", slow_mint)
    processes = [_ProviderTokens() for _ in range(4)]
    start, tokens = threading.Barrier(len(processes)), [""] * len(processes)

    def run_process(index: int) -> None:
        start.wait()
        tokens[index] = processes[index].get(
            "TEAM123456", "KEY1234567", SIGNING_KEY, ttl=3000.0, now=T0, cache=shared_cache
        )

    threads = [threading.Thread(target=run_process, args=(i,)) for i in range(len(processes))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(p.mints for p in processes) == 1
    assert len(set(tokens)) == 1 and tokens[0]


def test_a_process_waits_for_a_held_mint_lock_only_briefly(shared_cache, monkeypatch):
    monkeypatch.setattr(apns_tokens, "MINT_WAIT", 0.3)
    key = apns_tokens.shared_token_key("TEAM123456", "KEY1234567")
    assert caches[shared_cache].add(f"{key}:mint", 1, timeout=60)  # a process died holding it
    tokens = _ProviderTokens()
    started = time.monotonic()
    token = tokens.get("TEAM123456", "KEY1234567", SIGNING_KEY, ttl=3000.0, now=T0, cache=shared_cache)
    waited = time.monotonic() - started
    assert 0.3 <= waited < 1.5
    assert tokens.mints == 1 and caches[shared_cache].get(key)["token"] == token


def test_an_unreachable_cache_falls_back_to_process_tokens_with_one_warning(shared_cache, caplog):
    service = Service()
    backend = process(service, "push-down")
    now = [T0]
    backend.clock = lambda: now[0]
    with caplog.at_level(logging.WARNING, logger="django_push.backends"):
        assert send(backend, PushMessage(title="t"))[0].ok
        now[0] = T0 + 3000  # the next mint tries the cache again
        assert send(backend, PushMessage(title="t"))[0].ok
    assert backend.tokens.mints == 2
    warnings = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(warnings) == 1 and "'push-down'" in warnings[0].getMessage()


def test_expired_provider_token_is_replaced_once_across_processes(shared_cache):
    service = Service()
    first, second = process(service, shared_cache), process(service, shared_cache)
    send(first, PushMessage(title="warm-up"))
    send(second, PushMessage(title="warm-up"))
    (old,) = set(bearers(service))
    service.refuse_tokens.add(old)
    service.requests.clear()
    targets = [Target(f"{i:064x}") for i in range(3)]
    assert [r.status for r in send(first, PushMessage(title="t"), *targets)] == [DeliveryStatus.SENT] * 3
    assert [r.status for r in send(second, PushMessage(title="t"), *targets)] == [DeliveryStatus.SENT] * 3
    assert first.tokens.mints + second.tokens.mints == 2  # the warm-up token and one replacement
    assert len(set(bearers(service)) - {old}) == 1
    assert len(service.requests) == 12  # each target of each process: refused once, retried once


def test_too_many_token_updates_retries_once_with_the_newer_shared_token(shared_cache):
    service = Service()
    first, second = process(service, shared_cache), process(service, shared_cache)
    own = mint_local(second)  # second minted alone (the cache was down when it started)
    send(first, PushMessage(title="warm-up"))
    (shared,) = bearers(service)
    service.too_many_updates.add(own)
    service.requests.clear()
    targets = [Target(f"{i:064x}") for i in range(3)]
    results = send(second, PushMessage(title="t"), *targets)
    assert [r.status for r in results] == [DeliveryStatus.SENT] * 3
    assert sorted(bearers(service)) == sorted([own] * 3 + [shared] * 3)
    assert second.tokens.mints == 1  # only its own, before: it adopted the shared one, minted none
    send(second, PushMessage(title="again"))
    assert bearers(service)[-1] == shared


def test_too_many_token_updates_without_another_token_is_throttled_and_never_resent():
    service = Service()
    now = [T0]
    backend = process(service, None)
    backend.clock = lambda: now[0]
    own = mint_local(backend)
    service.too_many_updates.add(own)
    targets = [Target(f"{i:064x}") for i in range(3)]
    results = send(backend, PushMessage(title="t"), *targets)
    assert [(r.status, r.error_code, r.retry_after, r.counts_attempt) for r in results] == [
        (DeliveryStatus.THROTTLED, "TooManyProviderTokenUpdates", 60.0, False)
    ] * 3
    assert "token_cache" in results[0].reason
    assert len(service.requests) == 3  # one per target: no retry with the refused token
    now[0] = T0 + 20
    results = send(backend, PushMessage(title="t"), *targets)
    assert [(r.status, r.retry_after) for r in results] == [(DeliveryStatus.THROTTLED, 40.0)] * 3
    assert len(service.requests) == 3  # held back: nothing sent
    now[0] = T0 + 60
    service.too_many_updates.clear()  # APNs accepts it once the other token is 20 minutes old
    assert [r.status for r in send(backend, PushMessage(title="t"), *targets)] == [DeliveryStatus.SENT] * 3
    assert backend.tokens.mints == 1 and set(bearers(service)) == {own}


def test_too_many_token_updates_again_after_adopting_is_throttled_not_an_auth_error(shared_cache):
    service = Service()
    first, second = process(service, shared_cache), process(service, shared_cache)
    own = mint_local(second)
    send(first, PushMessage(title="warm-up"))
    (shared,) = bearers(service)
    service.too_many_updates.update({own, shared})
    service.requests.clear()
    results = send(second, PushMessage(title="t"), Target(TOKEN))
    assert [(r.status, r.error_code, r.status_code) for r in results] == [
        (DeliveryStatus.THROTTLED, "TooManyProviderTokenUpdates", 429)
    ]
    assert results[0].retry_after == 60.0
    assert bearers(service) == [own, shared]
    assert send(second, PushMessage(title="t"))[0].status == DeliveryStatus.THROTTLED
    assert len(service.requests) == 2  # the adopted token is held back too


def test_too_many_requests_429_is_still_plain_throttling():
    result = result_for(answer(429, "TooManyRequests", headers={"retry-after": "5"}))
    assert (result.status, result.retry_after, result.counts_attempt) == (
        DeliveryStatus.THROTTLED,
        5.0,
        True,
    )


def test_invalidate_replaces_the_shared_token_after_20_minutes(shared_cache):
    service = Service()
    now = [T0]
    first, second = process(service, shared_cache), process(service, shared_cache)
    for backend in (first, second):
        backend.clock = lambda: now[0]
    send(first, PushMessage(title="t"))
    first.tokens.invalidate()
    now[0] = T0 + 1199
    send(second, PushMessage(title="t"))
    now[0] = T0 + 1200
    send(first, PushMessage(title="t"))
    tokens = bearers(service)
    assert tokens[0] == tokens[1] != tokens[2]
    assert (first.tokens.mints, second.tokens.mints) == (2, 0)


def test_token_cache_must_name_a_configured_cache():
    with pytest.raises(PushConfigurationError, match=r"\['token_cache'\] must name one of settings.CACHES"):
        make_backend(Service(), token_cache="nope")


# -- configuration ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"key": None}, "exactly one APNs authentication"),
        ({"cert_file": "/x.pem"}, "not both"),
        ({"key_file": "/x.p8"}, "'key' .* or 'key_file', not both"),
        ({"team_id": None}, "needs 'team_id' and 'key_id'"),
        ({"key": "not a pem"}, r"\['key'\] is not a usable APNs key"),
        ({"key": pem(ec.generate_private_key(ec.SECP384R1()))}, "P-256"),
        ({"token_ttl": 4000}, "token_ttl"),
        ({"token_ttl": 600}, "20 minutes"),
        ({"topic": ""}, "bundle id"),
    ],
)
def test_configuration_errors_name_the_setting(options, match):
    with pytest.raises(PushConfigurationError, match=match) as info:
        make_backend(Service(), **options)
    assert 'DJANGO_PUSH["BACKENDS"]["apns"]["OPTIONS"]' in str(info.value)


def test_topic_is_required():
    with pytest.raises(PushConfigurationError, match="'topic'"):
        APNsBackend(alias="apns", team_id="T", key_id="K", key=KEY_PEM)


def test_key_file_is_read_at_first_send_not_at_construction(tmp_path):
    path = tmp_path / "AuthKey.p8"
    backend = make_backend(Service(), key=None, key_file=str(path))  # missing file: no error yet
    with pytest.raises(PushAuthError, match=r"\['key_file'\]") as info:
        send(backend, PushMessage(title="t"))
    assert [r.status for r in info.value.results] == [DeliveryStatus.FAILED]
    path.write_text(KEY_PEM)
    backend = make_backend(Service(), key=None, key_file=str(path))
    assert send(backend, PushMessage(title="t"))[0].ok


# -- certificate authentication ---------------------------------------------------------------------
def write_certificate(tmp_path, days: int) -> tuple[str, str]:
    key = ec_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Apple Push Services: com.example.app")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(days=400))
        .not_valid_after(now + datetime.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_text(pem(key))
    return str(cert_path), str(key_path)


def test_certificate_auth_loads_the_chain_and_sends_no_bearer_token(tmp_path):
    cert_file, key_file = write_certificate(tmp_path, days=30)
    service = Service()
    backend = make_backend(
        service, key=None, team_id=None, key_id=None, cert_file=cert_file, cert_key_file=key_file
    )
    context = backend.ssl_context()
    assert context is not None and backend.ssl_context() is context
    assert send(backend, PushMessage(title="t"))[0].ok
    assert "authorization" not in service.requests[0].headers
    assert "valid until" in backend.check_credentials()


def test_expired_certificate_is_reported(tmp_path):
    cert_file, key_file = write_certificate(tmp_path, days=-1)
    backend = make_backend(Service(), key=None, cert_file=cert_file, cert_key_file=key_file)
    with pytest.raises(PushConfigurationError, match="expired on"):
        backend.check_credentials()


def test_check_credentials_signs_without_touching_the_cache():
    backend = make_backend(Service())
    assert "KEY1234567" in backend.check_credentials()
    assert mints() == 0


def test_sync_facade_runs_on_the_push_loop():
    service = Service()
    backend = make_backend(service)
    assert run(backend.asend(PushMessage(title="t"), [Target(TOKEN)]))[0].ok
    assert mints() == 1
