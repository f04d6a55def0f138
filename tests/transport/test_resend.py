"""Requests the service provably never processed are resent at once, on a fresh connection, for free.

``HTTPBackend.exchange`` rebuilds, re-authorizes and resends a request that failed with
``RequestNotProcessed`` (a GOAWAY above its stream, REFUSED_STREAM) or a connect failure, up to
``not_processed_retries`` times; an ambiguous failure (the connection lost after the request was
written) is never resent here: the service may have delivered it.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from bench.fakepush import FakePushService
from django_push.backends.apns import APNsBackend
from django_push.backends.apns_tokens import provider_tokens
from django_push.message import PushMessage, Target
from django_push.results import DeliveryStatus, SendResult
from django_push.transport.errors import RESEND, RequestNotProcessed, TransportClosed

from ..backends.fixtures import KEY_PEM


@pytest.fixture(autouse=True)
def _fresh_tokens():
    provider_tokens.clear()
    yield
    provider_tokens.clear()


def apns_backend(**options) -> APNsBackend:
    return APNsBackend(
        alias="apns",
        team_id="TEAM123456",
        key_id="KEY1234567",
        key=KEY_PEM,
        topic="com.example.app",
        **options,
    )


def against(service: FakePushService, **options) -> APNsBackend:
    return apns_backend(
        production_url=service.url, sandbox_url=service.url, verify=service.ca_file, **options
    )


def send(backend: APNsBackend, names: list[str]) -> tuple[list[SendResult], float]:
    async def go() -> tuple[list[SendResult], float]:
        try:
            started = time.monotonic()
            results = await backend.asend(PushMessage(title="hi"), [Target(t) for t in names])
            return results, time.monotonic() - started
        finally:
            await backend.aclose()

    return asyncio.run(go())


def tokens(n: int) -> list[str]:
    return [f"{i:064x}" for i in range(n)]


def test_a_goaway_every_ten_streams_loses_and_repeats_nothing():
    names = tokens(1000)
    with FakePushService() as service:
        clean, clean_time = send(against(service), names)
    assert all(r.status == DeliveryStatus.SENT for r in clean)

    with FakePushService(goaway_every=10) as service:
        results, elapsed = send(against(service), names)
        accepted = dict(service.accepted)
        goaways, requests = service.stats.goaways_sent, service.requests_total
        opened = service.connections_opened
    failures = [r for r in results if r.status != DeliveryStatus.SENT]
    assert not failures, failures[:3]
    assert accepted == dict.fromkeys(names, 1)  # each device exactly once
    assert goaways >= 90 and opened >= 90  # a fresh connection after each GOAWAY
    assert requests > len(names)  # streams were refused, and resent
    # A hundred TLS handshakes (client and service share this process and two busy cores) cost
    # 2.6-3.3x the fault-free run here; 4x leaves room for the noise of a shared machine.
    assert elapsed < 4 * clean_time, (elapsed, clean_time)


def test_refused_streams_are_resent_at_once():
    names = tokens(300)
    with FakePushService(fault_rate=1.0, faults=("refuse",)) as service:
        results, _ = send(against(service), names)
        accepted, attempts = dict(service.accepted), dict(service.stats.attempts)
        refused = service.stats.faults["refuse"]
    assert [r.status for r in results] == [DeliveryStatus.SENT] * 300
    assert refused == 300  # every first attempt was refused
    assert accepted == dict.fromkeys(names, 1)
    assert attempts == dict.fromkeys(names, 2)


@pytest.mark.parametrize(("refusals", "retries"), [(5, 5), (6, 5), (1, 0)])
def test_resends_stop_after_not_processed_retries(refusals, retries):
    token = "a" * 64
    with FakePushService() as service:
        for _ in range(refusals):
            service.inject_fault(token, "refuse")
        (result,), _ = send(against(service, not_processed_retries=retries), [token])
        accepted, attempts = service.accepted[token], service.stats.attempts[token]
    if refusals <= retries:
        assert result.status == DeliveryStatus.SENT
        assert (accepted, attempts) == (1, refusals + 1)
    else:
        # Given up: UNAVAILABLE, not ambiguous, and it costs the delivery no attempt.
        assert (result.status, result.error_code) == (DeliveryStatus.UNAVAILABLE, "not_processed")
        assert not result.ambiguous and not result.counts_attempt
        assert (accepted, attempts) == (0, retries + 1)


class Script:
    """A MockTransport handler: raise the scripted exceptions in turn, then answer 200."""

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.failures:
            raise self.failures.pop(0)
        return httpx.Response(200, headers={"apns-id": "X"})


def test_connect_failures_are_resent_rebuilt_and_reauthorized():
    script = Script(httpx.ConnectError("refused"), httpx.ConnectTimeout("slow"), RequestNotProcessed("x"))
    backend = apns_backend(transport=httpx.MockTransport(script))
    (result,), _ = send(backend, ["b" * 64])
    assert result.status == DeliveryStatus.SENT
    assert len(script.requests) == 4
    assert len({id(r) for r in script.requests}) == 4  # built anew each time
    assert all(r.headers["authorization"].startswith("bearer ") for r in script.requests)
    assert [bool(r.extensions.get(RESEND)) for r in script.requests] == [False, True, True, True]


@pytest.mark.parametrize(
    "error",
    [httpx.ReadError("lost after writing"), httpx.ReadTimeout("no answer"), TransportClosed("closed")],
)
def test_what_may_have_been_processed_or_cannot_be_sent_is_not_resent(error):
    script = Script(error)
    backend = apns_backend(transport=httpx.MockTransport(script))
    (result,), _ = send(backend, ["c" * 64])
    assert len(script.requests) == 1
    assert result.status == DeliveryStatus.UNAVAILABLE
    assert result.ambiguous == (not isinstance(error, TransportClosed))


def test_a_server_that_retires_connections_after_n_streams_is_learned():
    """After a graceful GOAWAY at N streams, no connection is given more than N: what it would have
    refused goes to another connection at once instead of there and back (1,000 pushes with a
    GOAWAY every 10 streams cost about 1,100 requests, not 11,000)."""
    import asyncio

    import httpx

    from bench.fakepush import FakePushService
    from django_push.transport.h2 import H2Transport

    async def run(url: str, ca_file: str) -> list[int]:
        transport = H2Transport(verify=ca_file, timeout=httpx.Timeout(10, connect=5))

        async def one(i: int) -> int:
            for _ in range(30):  # what HTTPBackend.exchange does with a never-processed request
                request = httpx.Request(
                    "POST", f"{url}/3/device/{i:064x}", headers={"authorization": "bearer x"}, content=b"{}"
                )
                try:
                    response = await transport.handle_async_request(request)
                    await response.aread()
                    return response.status_code
                except Exception as exc:
                    if type(exc).__name__ != "RequestNotProcessed":
                        raise
            return 0

        try:
            return await asyncio.gather(*(one(i) for i in range(1000)))
        finally:
            await transport.aclose()

    with FakePushService(latency=0.01, goaway_every=10) as service:
        statuses = asyncio.run(run(service.url, service.ca_file))
        requests = service.requests_total
    assert statuses.count(200) == 1000
    assert requests < 1500, requests
