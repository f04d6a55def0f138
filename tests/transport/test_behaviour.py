"""The lean HTTP/2 transport against the local fake push service (real TLS, real HTTP/2)."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest

from bench.fakepush import FakePushService
from django_push.backends.base import result_for_exception
from django_push.transport.errors import RequestNotProcessed
from django_push.transport.h2 import H2Transport


def post(url: str, token: str) -> httpx.Request:
    return httpx.Request(
        "POST", f"{url}/3/device/{token}", headers={"authorization": "bearer t"}, content=b'{"aps":{}}'
    )


async def send_all(transport: H2Transport, url: str, tokens: list[str]) -> list[httpx.Response | Exception]:
    async def one(token: str) -> httpx.Response | Exception:
        try:
            response = await transport.handle_async_request(post(url, token))
            await response.aread()
            return response
        except Exception as exc:
            return exc

    try:
        return await asyncio.gather(*(one(t) for t in tokens))
    finally:
        await transport.aclose()


def test_round_trip_status_headers_and_body():
    with FakePushService() as service:
        transport = H2Transport(verify=service.ca_file)
        ok, dead = asyncio.run(send_all(transport, service.url, ["a" * 64, "dead" + "0" * 60]))
    assert ok.status_code == 200 and ok.headers["apns-id"] and ok.extensions["http_version"] == b"HTTP/2"
    assert dead.status_code == 410 and dead.json()["reason"] == "Unregistered"


def test_many_requests_reuse_a_few_connections():
    with FakePushService(latency=0.01) as service:
        transport = H2Transport(verify=service.ca_file, max_connections=2)
        results = asyncio.run(send_all(transport, service.url, [f"{i:064x}" for i in range(1000)]))
        opened = service.stats.connections_opened
    assert [r.status_code for r in results] == [200] * 1000
    assert opened <= 2


def test_server_max_concurrent_streams_is_honoured():
    with FakePushService(latency=0.02, max_concurrent_streams=10) as service:
        transport = H2Transport(verify=service.ca_file, max_connections=1)
        results = asyncio.run(send_all(transport, service.url, [f"{i:064x}" for i in range(200)]))
        peak = service.stats.max_in_flight
    assert all(isinstance(r, httpx.Response) and r.status_code == 200 for r in results)
    assert peak <= 10


def test_goaway_answers_accepted_streams_and_refuses_the_rest_without_duplicates():
    with FakePushService(latency=0.01, fault_rate=0.05, seed=11, faults=("goaway",)) as service:
        transport = H2Transport(verify=service.ca_file, max_connections=2)
        tokens = [f"{i:064x}" for i in range(400)]
        results = asyncio.run(send_all(transport, service.url, tokens))
        accepted = dict(service.accepted)
        goaways = service.stats.faults["goaway"]
    refused = [t for t, r in zip(tokens, results, strict=True) if isinstance(r, RequestNotProcessed)]
    answered = [t for t, r in zip(tokens, results, strict=True) if isinstance(r, httpx.Response)]
    assert goaways >= 1 and refused, "the fault never happened"
    assert all(accepted.get(t) == 1 for t in answered if results[tokens.index(t)].status_code == 200)
    assert not any(accepted.get(t) for t in refused), (
        "a refused stream had been processed: a retry would duplicate"
    )
    assert all(isinstance(r, (httpx.Response, RequestNotProcessed)) for r in results)
    mapped = result_for_exception(RequestNotProcessed("x"))
    assert mapped is not None and mapped.retryable and not mapped.ambiguous


def test_read_timeout():
    with FakePushService(latency=1.0) as service:
        transport = H2Transport(verify=service.ca_file, timeout=httpx.Timeout(0.2, connect=5))
        (result,) = asyncio.run(send_all(transport, service.url, ["a" * 64]))
    assert isinstance(result, httpx.ReadTimeout)
    mapped = result_for_exception(result)
    assert mapped is not None and mapped.ambiguous  # the service may have accepted it


def test_connect_error_is_not_ambiguous():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    transport = H2Transport(verify=False, timeout=httpx.Timeout(2, connect=2))
    (result,) = asyncio.run(send_all(transport, f"https://127.0.0.1:{port}", ["a" * 64]))
    assert isinstance(result, httpx.ConnectError)
    mapped = result_for_exception(result)
    assert mapped is not None and not mapped.ambiguous


def test_falls_back_to_http11_when_h2_is_not_offered():
    with FakePushService(alpn=("http/1.1",)) as service:
        transport = H2Transport(verify=service.ca_file)
        (result,) = asyncio.run(send_all(transport, service.url, ["a" * 64]))
    assert isinstance(result, httpx.Response) and result.status_code == 200
    assert result.extensions["http_version"] == b"HTTP/1.1"


@pytest.mark.parametrize("body_size", [3_000_000])  # over the 1 MiB window the fake advertises
def test_large_bodies_wait_for_flow_control(body_size):
    with FakePushService() as service:
        transport = H2Transport(verify=service.ca_file)

        async def go():
            request = httpx.Request(
                "POST",
                f"{service.url}/3/device/{'a' * 64}",
                headers={"authorization": "bearer t"},
                content=b"x" * body_size,
            )
            try:
                response = await transport.handle_async_request(request)
                await response.aread()
                return response
            finally:
                await transport.aclose()

        response = asyncio.run(go())
    assert response.status_code == 200
