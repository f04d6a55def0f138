"""H2Transport against the local fake push service: real TLS, real HTTP/2, scripted faults.

What matters most here is what a caller can conclude from each failure: ``RequestNotProcessed``
(and connect errors) mean the service certainly did not act on the request, so a retry cannot
duplicate a push; ``ReadError``/``ReadTimeout`` mean it may have, and are mapped as ambiguous.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import hpack
import httpx
import pytest

from bench.fakepush import FakePushService
from django_push.backends.base import result_for_exception
from django_push.transport.errors import RequestNotProcessed
from django_push.transport.h2 import H2Transport
from django_push.transport.hpack import memo_encoder_class

BODY = b'{"aps":{"alert":"hi"}}'

try:
    import jh2  # noqa: F401

    LIBRARIES = ["h2", "jh2"]
except ImportError:  # pragma: no cover - jh2 is the optional "fast" extra
    LIBRARIES = ["h2"]


_library = {"name": "h2"}


@pytest.fixture(params=LIBRARIES)
def h2_library(request):
    """Run a test over h2 and, when installed, over jh2 (the ``h2_library`` option)."""
    _library["name"] = request.param
    yield request.param
    _library["name"] = "h2"


def apns(url: str, token: str, **headers: str) -> httpx.Request:
    return httpx.Request(
        "POST",
        f"{url}/3/device/{token}",
        headers={"authorization": "bearer jwt", "apns-topic": "com.example", **headers},
        content=BODY,
    )


def tokens(n: int) -> list[str]:
    return [f"{i:064x}" for i in range(n)]


async def exchange(transport: H2Transport, request: httpx.Request) -> httpx.Response:
    """What HTTPBackend does with a transport."""
    response = await transport.handle_async_request(request)
    try:
        await response.aread()
    finally:
        await response.aclose()
    return response


async def send_all(
    transport: H2Transport, requests: list[httpx.Request], close: bool = True
) -> list[httpx.Response | Exception]:
    async def one(request: httpx.Request) -> httpx.Response | Exception:
        try:
            return await exchange(transport, request)
        except Exception as exc:
            return exc

    try:
        return list(await asyncio.gather(*(one(r) for r in requests)))
    finally:
        if close:
            await transport.aclose()


def transport_for(service: FakePushService, **kwargs) -> H2Transport:
    kwargs.setdefault("h2_library", _library["name"])
    return H2Transport(timeout=httpx.Timeout(10.0, connect=5.0), verify=service.ca_file, **kwargs)


def wait_for(condition, timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def test_round_trip_status_headers_and_body(h2_library):
    with FakePushService() as service:
        transport = transport_for(service)
        assert transport.h2_backend == h2_library
        fcm = httpx.Request(
            "POST",
            f"{service.url}/v1/projects/demo/messages:send",
            headers={"authorization": "Bearer fake-1", "content-type": "application/json"},
            content=b'{"message": {"token": "tok-1"}}',
        )
        ok, dead, sent = asyncio.run(
            send_all(
                transport,
                [
                    apns(service.url, "a" * 64, **{"apns-id": "ID-1"}),
                    apns(service.url, "dead" + "0" * 60),
                    fcm,
                ],
            )
        )
    assert ok.status_code == 200 and ok.headers["apns-id"] == "ID-1" and ok.content == b""
    assert ok.extensions["http_version"] == b"HTTP/2" and ok.request.url.path.endswith("a" * 64)
    assert dead.status_code == 410 and dead.json()["reason"] == "Unregistered"
    assert dead.headers["content-type"] == "application/json"
    assert sent.status_code == 200 and sent.json()["name"].startswith("projects/demo/messages/")
    assert dict(service.accepted) == {"a" * 64: 1, "tok-1": 1}


def test_a_thousand_concurrent_requests_share_max_connections():
    with FakePushService(latency=0.01) as service:
        transport = transport_for(service, max_connections=4)
        names = tokens(1000)
        results = asyncio.run(send_all(transport, [apns(service.url, t) for t in names]))
        opened = service.connections_opened
    assert [getattr(r, "status_code", r) for r in results] == [200] * 1000
    assert 1 <= opened <= 4 and transport.connections_opened == opened
    assert all(service.accepted[t] == 1 for t in names)


def test_server_max_concurrent_streams_is_honoured_by_waiting():
    with FakePushService(latency=0.02, max_concurrent_streams=10) as service:
        transport = transport_for(service, max_connections=1)
        results = asyncio.run(send_all(transport, [apns(service.url, t) for t in tokens(200)]))
        peak, opened = service.stats.max_in_flight, service.connections_opened
    assert [getattr(r, "status_code", r) for r in results] == [200] * 200
    assert peak == 10  # used to the full, never beyond
    assert opened == 1


def test_a_new_connection_opens_only_when_the_others_are_full():
    with FakePushService(latency=0.02, max_concurrent_streams=10) as service:
        transport = transport_for(service, max_connections=3)
        results = asyncio.run(send_all(transport, [apns(service.url, t) for t in tokens(300)]))
        peak, opened = service.stats.max_in_flight, service.connections_opened
    assert all(getattr(r, "status_code", None) == 200 for r in results)
    assert opened == 3 and peak <= 30


def test_a_stream_limit_raised_after_the_first_request_is_used():
    # APNs starts a connection at a low MAX_CONCURRENT_STREAMS and raises it once authenticated.
    with FakePushService(
        latency=0.02, initial_max_concurrent_streams=1, max_concurrent_streams=50
    ) as service:
        transport = transport_for(service, max_connections=1)
        results = asyncio.run(send_all(transport, [apns(service.url, t) for t in tokens(300)]))
        peak = service.stats.max_in_flight
    assert all(getattr(r, "status_code", None) == 200 for r in results)
    assert 1 < peak <= 50


def test_a_stream_limit_lowered_mid_connection_is_honoured():
    with FakePushService(
        latency=0.02, initial_max_concurrent_streams=100, max_concurrent_streams=5
    ) as service:
        transport = transport_for(service, max_connections=1)

        async def go() -> list[httpx.Response | Exception]:
            first = await exchange(transport, apns(service.url, "f" * 64))  # brings the new SETTINGS
            assert first.status_code == 200
            return await send_all(transport, [apns(service.url, t) for t in tokens(100)])

        results = asyncio.run(go())
        peak = service.stats.max_in_flight
    assert all(getattr(r, "status_code", None) == 200 for r in results)
    assert peak == 5


def test_goaway_refuses_streams_above_last_stream_id_and_answers_the_rest(h2_library):
    names = tokens(400)
    with FakePushService(latency=0.01, fault_rate=0.05, seed=11, faults=("goaway",)) as service:
        transport = transport_for(service, max_connections=2)
        results = asyncio.run(send_all(transport, [apns(service.url, t) for t in names], close=False))
        refused = [t for t, r in zip(names, results, strict=True) if isinstance(r, RequestNotProcessed)]
        answered = [t for t, r in zip(names, results, strict=True) if isinstance(r, httpx.Response)]
        assert service.stats.faults["goaway"] >= 1 and refused, "the fault never happened"
        assert len(refused) + len(answered) == len(names), [r for r in results if isinstance(r, Exception)]
        # The service processed exactly the answered ones, each once, and none of the refused.
        assert all(service.accepted[t] == 1 for t in answered)
        assert not any(service.accepted[t] for t in refused)
        # Retrying what was refused cannot duplicate, and converges (faults hit first attempts only).
        retried = asyncio.run(send_all(transport, [apns(service.url, t) for t in refused]))
        accepted = dict(service.accepted)
        opened = service.connections_opened
    assert all(getattr(r, "status_code", None) == 200 for r in retried)
    assert accepted == dict.fromkeys(names, 1)
    assert opened >= 2  # the retired connection was replaced
    mapped = result_for_exception(RequestNotProcessed("x"))
    assert mapped is not None and mapped.retryable and not mapped.ambiguous


def test_refused_stream_is_not_processed():
    with FakePushService(fault_rate=1.0, faults=("refuse",)) as service:
        transport = transport_for(service)
        (first,) = asyncio.run(send_all(transport, [apns(service.url, "a" * 64)], close=False))
        (second,) = asyncio.run(send_all(transport, [apns(service.url, "a" * 64)]))
        accepted = service.accepted["a" * 64]
    assert isinstance(first, RequestNotProcessed)
    assert isinstance(second, httpx.Response) and second.status_code == 200
    assert accepted == 1


def test_connection_reset_before_accept_is_reported_as_ambiguous():
    """The service drops the connection on receiving the request, without processing it.

    From the client's side this is indistinguishable from a service that processed the push and
    then lost the connection before answering: both are "connection lost after the request was
    written". So the transport raises ReadError, which maps to an *ambiguous* retryable result;
    claiming "not processed" would be a guess that happens to be right only for this fake.
    """
    with FakePushService(fault_rate=1.0, faults=("reset",), reset_linger=0.05) as service:
        transport = transport_for(service)
        (first,) = asyncio.run(send_all(transport, [apns(service.url, "a" * 64)], close=False))
        (retry,) = asyncio.run(send_all(transport, [apns(service.url, "a" * 64)]))
        accepted, opened = service.accepted["a" * 64], service.connections_opened
    assert isinstance(first, httpx.ReadError) and not isinstance(first, RequestNotProcessed)
    mapped = result_for_exception(first)
    assert mapped is not None and mapped.retryable and mapped.ambiguous
    assert isinstance(retry, httpx.Response) and retry.status_code == 200
    assert accepted == 1 and opened == 2  # the lost connection left the pool; a new one served


def test_a_lost_connection_fails_every_stream_on_it_and_leaves_the_pool():
    with FakePushService(latency=5.0) as service:
        # No in-flight limit: all 50 are on the wire when the connection dies.
        transport = transport_for(service, max_connections=1, adaptive_limit=False)

        async def go() -> list[httpx.Response | Exception]:
            pending = asyncio.ensure_future(
                send_all(transport, [apns(service.url, t) for t in tokens(50)], close=False)
            )
            await asyncio.sleep(0.2)  # all 50 written and waiting on the 5 s latency
            assert service.loop is not None
            service.loop.call_soon_threadsafe(
                lambda: [p.transport.abort() for p in list(service.protocols) if p.transport]
            )
            started = time.monotonic()
            results = await pending
            assert time.monotonic() - started < 2  # failed at once, not at the read timeout
            return results

        results = asyncio.run(go())
        assert all(isinstance(r, httpx.ReadError) for r in results), results[:3]
        assert not any(transport._pools[key].connections for key in transport._pools)
    assert all(result_for_exception(r).ambiguous for r in results)  # type: ignore[union-attr]


def test_the_pool_recovers_after_a_lost_connection():
    with FakePushService() as service:
        transport = transport_for(service, max_connections=1)

        async def go() -> httpx.Response:
            await exchange(transport, apns(service.url, "a" * 64))
            assert service.loop is not None
            service.loop.call_soon_threadsafe(
                lambda: [p.transport.abort() for p in list(service.protocols) if p.transport]
            )
            await asyncio.sleep(0.1)
            try:
                return await exchange(transport, apns(service.url, "b" * 64))
            finally:
                await transport.aclose()

        response = asyncio.run(go())
        opened = service.connections_opened
    assert response.status_code == 200 and opened == 2


def test_read_timeout():
    with FakePushService(latency=2.0) as service:
        transport = H2Transport(verify=service.ca_file, timeout=httpx.Timeout(0.2, connect=5))
        started = time.monotonic()
        results = asyncio.run(send_all(transport, [apns(service.url, t) for t in tokens(3)]))
        elapsed = time.monotonic() - started
    assert all(isinstance(r, httpx.ReadTimeout) for r in results), results
    assert elapsed < 1.5
    mapped = result_for_exception(results[0])
    assert mapped is not None and mapped.ambiguous  # the service may have accepted it


def test_connect_error_fails_every_queued_request_at_once():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    transport = H2Transport(verify=False, timeout=httpx.Timeout(2, connect=2))
    results = asyncio.run(send_all(transport, [apns(f"https://127.0.0.1:{port}", t) for t in tokens(20)]))
    assert all(isinstance(r, httpx.ConnectError) for r in results)
    mapped = result_for_exception(results[0])
    assert mapped is not None and not mapped.ambiguous


def test_connect_timeout_when_the_server_never_answers_the_handshake():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # accepts TCP, never speaks TLS
    try:
        transport = H2Transport(verify=False, timeout=httpx.Timeout(2, connect=0.2))
        url = f"https://127.0.0.1:{listener.getsockname()[1]}"
        (result,) = asyncio.run(send_all(transport, [apns(url, "a" * 64)]))
    finally:
        listener.close()
    assert isinstance(result, httpx.ConnectTimeout)


def test_falls_back_to_http11_when_h2_is_not_offered():
    with FakePushService(alpn=("http/1.1",)) as service:
        transport = transport_for(service)
        results = asyncio.run(send_all(transport, [apns(service.url, t) for t in tokens(3)]))
    assert [r.status_code for r in results] == [200] * 3  # type: ignore[union-attr]
    assert all(r.extensions["http_version"] == b"HTTP/1.1" for r in results)  # type: ignore[union-attr]
    assert transport.connections_opened == 0


@pytest.mark.parametrize("size", [3_000_000])  # over the fake's 1 MiB stream window, and ours
def test_large_bodies_use_flow_control_both_ways(size):
    payload = bytes(range(256)) * (size // 256)
    with FakePushService() as service:
        transport = transport_for(service)
        request = httpx.Request("POST", f"{service.url}/_echo", content=payload)
        (response,) = asyncio.run(send_all(transport, [request]))
    assert response.status_code == 200 and response.content == payload  # type: ignore[union-attr]


def test_aclose_closes_every_connection():
    with FakePushService(latency=0.01, max_concurrent_streams=5) as service:
        transport = transport_for(service, max_connections=3)
        asyncio.run(send_all(transport, [apns(service.url, t) for t in tokens(30)]))  # closes at the end
        assert service.connections_opened == 3
        assert wait_for(lambda: not service.protocols), "the server still sees open connections"


def test_a_transport_used_from_a_new_event_loop_reconnects():
    with FakePushService() as service:
        transport = transport_for(service)
        first = asyncio.run(exchange(transport, apns(service.url, "a" * 64)))
        second = asyncio.run(exchange(transport, apns(service.url, "b" * 64)))
        asyncio.run(transport.aclose())
    assert first.status_code == second.status_code == 200


def test_memo_encoder_output_decodes_to_the_same_headers():
    encoder, decoder = memo_encoder_class(hpack.Encoder)(), hpack.Decoder()
    for i in range(3000):
        headers = [
            (b":method", b"POST"),
            (b":authority", b"api.push.apple.com"),
            (b":scheme", b"https"),
            (b":path", b"/3/device/%064x" % i),
            (b"authorization", b"bearer " + str(i // 700).encode() * 60),  # rotates: table churn
            (b"apns-expiration", str(i // 100).encode()),
            (b"x-custom-%d" % (i % 5), b"v" * (i % 300)),
        ]
        if i == 1000:  # the peer shrinks the dynamic table mid-stream
            encoder.header_table_size = decoder.header_table_size = 256
        assert [tuple(h) for h in decoder.decode(encoder.encode(headers), raw=True)] == headers, i


def test_requests_from_many_tasks_never_exceed_the_limit_while_waiting_in_order():
    # 50 requests for 2 streams: the ones kept waiting are served in arrival order (FIFO).
    with FakePushService(latency=0.02, max_concurrent_streams=2) as service:
        transport = transport_for(service, max_connections=1)
        order: list[int] = []
        lock = threading.Lock()

        async def go() -> None:
            async def one(i: int) -> None:
                await exchange(transport, apns(service.url, f"{i:064x}"))
                with lock:
                    order.append(i)

            try:
                await asyncio.gather(*(one(i) for i in range(50)))
            finally:
                await transport.aclose()

        asyncio.run(go())
        peak = service.stats.max_in_flight
    assert peak == 2
    assert sorted(order) == list(range(50))
    assert all(abs(position - i) <= 1 for position, i in enumerate(order)), order
