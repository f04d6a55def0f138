"""Apple's 20-minute provider-token rule, enforced by the fake push service (real TLS + HTTP/2), against
two worker "processes": each with its own token state, with or without a cache they share."""

from __future__ import annotations

import uuid

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bench.fakepush import FakePushService
from django_push.backends.apns import APNsBackend
from django_push.backends.apns_tokens import _ProviderTokens
from django_push.message import PushMessage, Target
from django_push.results import DeliveryStatus

TARGETS = [Target(f"{i:064x}") for i in range(20)]


@pytest.fixture
def shared_cache(settings) -> str:
    settings.CACHES = {
        **settings.CACHES,
        "push-tokens": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"push-tokens-{uuid.uuid4()}",
        },
    }
    return "push-tokens"


def worker(service: FakePushService, key: str, token_cache: str | None) -> APNsBackend:
    """One worker process's backend: its own provider-token state, the fleet's key."""
    backend = APNsBackend(
        alias="apns",
        team_id="TEAM123456",
        key_id="KEY1234567",
        key=key,
        topic="com.example.app",
        production_url=service.url,
        verify=service.ca_file,
        token_cache=token_cache,
    )
    backend.tokens = _ProviderTokens()
    return backend


def signing_key() -> str:
    return (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        .decode()
    )


def broadcast_from_two_workers(token_cache: str | None) -> tuple[list, list, dict, set[str], int]:
    key = signing_key()
    with FakePushService(enforce_token_rule=True, token_refresh_window=1200) as service:
        first, second = worker(service, key, token_cache), worker(service, key, token_cache)
        try:
            first_results = first.send(PushMessage(title="one"), TARGETS)
            second_results = second.send(PushMessage(title="two"), TARGETS)
        finally:
            first.close()
            second.close()
        refusals = dict(service.stats.token_refusals)
        jwts = set(service.jwts_seen)
        requests = service.requests_total
    return first_results, second_results, refusals, jwts, requests


def test_workers_sharing_a_cache_send_one_token_and_get_no_429(shared_cache):
    first, second, refusals, jwts, requests = broadcast_from_two_workers(shared_cache)
    assert [r.status for r in first + second] == [DeliveryStatus.SENT] * (2 * len(TARGETS))
    assert refusals == {}
    assert len(jwts) == 1
    assert requests == 2 * len(TARGETS)


def test_workers_without_a_shared_cache_get_429_for_the_second_token_and_do_not_resend_it():
    first, second, refusals, jwts, requests = broadcast_from_two_workers(None)
    assert [r.status for r in first] == [DeliveryStatus.SENT] * len(TARGETS)
    assert {(r.status, r.error_code, r.retry_after) for r in second} == {
        (DeliveryStatus.THROTTLED, "TooManyProviderTokenUpdates", 60.0)
    }
    assert refusals == {"TooManyProviderTokenUpdates": len(TARGETS)}
    assert len(jwts) == 2
    assert requests == 2 * len(TARGETS)  # the refused token was never sent twice for a target


def test_a_worker_holding_its_own_newer_token_adopts_the_shared_one_after_one_429(shared_cache):
    key = signing_key()
    with FakePushService(enforce_token_rule=True) as service:
        first, second = worker(service, key, shared_cache), worker(service, key, shared_cache)
        # The second worker minted alone (the cache was unreachable when it started) — after the first.
        try:
            assert [r.status for r in first.send(PushMessage(title="one"), TARGETS)] == [
                DeliveryStatus.SENT
            ] * len(TARGETS)
            second.tokens.get(
                "TEAM123456", "KEY1234567", second.signing_key(), ttl=3000.0, now=second.clock()
            )
            results = second.send(PushMessage(title="two"), TARGETS)
            again = second.send(PushMessage(title="three"), TARGETS)
        finally:
            first.close()
            second.close()
        refusals = dict(service.stats.token_refusals)
        requests = service.requests_total
        jwts = len(service.jwts_seen)
    assert [r.status for r in results + again] == [DeliveryStatus.SENT] * (2 * len(TARGETS))
    assert refusals == {"TooManyProviderTokenUpdates": len(TARGETS)}  # once per target, then adopted
    assert requests == 4 * len(TARGETS)
    assert jwts == 2 and second.tokens.mints == 1
