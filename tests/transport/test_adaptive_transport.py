"""The adaptive in-flight limit inside H2Transport, against the local fake push service.

What it buys: a lost connection takes what was in flight with it, and those requests are ambiguous
(the service may have delivered them). With the limit, what is in flight is about what fills the
wire, not the server's MAX_CONCURRENT_STREAMS.
"""

from __future__ import annotations

import asyncio
import socket
import time

import httpx
import pytest

from bench.fakepush import FakePushService
from django_push.transport.errors import RequestNotProcessed
from django_push.transport.h2 import MIN_IN_FLIGHT, QUEUE_FLOOR, H2Transport
from django_push.transport.limit import AdaptiveLimit

from .test_h2transport import apns, exchange, send_all, tokens, transport_for


class RecordingLimit(AdaptiveLimit):
    """An AdaptiveLimit that remembers the signals the transport gave it."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.drops: list[str] = []
        self.samples: list[float] = []
        self.bare_releases = 0

    def on_drop(self, kind: str) -> None:
        self.drops.append(kind)
        super().on_drop(kind)

    def release(self, rtt: float | None = None) -> None:
        if rtt is None:
            self.bare_releases += 1
        else:
            self.samples.append(rtt)
        super().release(rtt)


@pytest.fixture
def recording(monkeypatch):
    """Every pool of every H2Transport gets a RecordingLimit; the list holds them in order."""
    made: list[RecordingLimit] = []

    def new_limiter(self: H2Transport) -> RecordingLimit:
        floor = QUEUE_FLOOR * self.max_connections
        limiter = RecordingLimit(
            initial=QUEUE_FLOOR, min_limit=MIN_IN_FLIGHT, max_limit=4000, queue_floor=floor
        )
        made.append(limiter)
        return limiter

    monkeypatch.setattr(H2Transport, "new_limiter", new_limiter)
    return made


def ambiguous_after_one_reset(adaptive: bool) -> tuple[int, int, int]:
    """3,000 requests over one connection at 50 ms, one reset mid-way (by then the limit has left
    slow start, whose doublings may overshoot for a round trip): (ambiguous, answered, peak)."""
    names = tokens(3000)
    with FakePushService(latency=0.05, reset_linger=0.2) as service:
        service.inject_fault(names[1500], "reset")
        transport = transport_for(service, max_connections=1, adaptive_limit=adaptive)
        results = asyncio.run(send_all(transport, [apns(service.url, t) for t in names]))
        faults = dict(service.stats.faults)
        peak = service.stats.max_in_flight
        accepted = dict(service.accepted)
    assert faults == {"reset": 1}
    ambiguous = [t for t, r in zip(names, results, strict=True) if isinstance(r, httpx.ReadError)]
    answered = [t for t, r in zip(names, results, strict=True) if getattr(r, "status_code", None) == 200]
    assert len(ambiguous) + len(answered) == len(names), [r for r in results if isinstance(r, Exception)][:3]
    assert all(accepted.get(t) == 1 for t in answered)
    return len(ambiguous), len(answered), peak


def test_a_reset_takes_far_fewer_streams_with_the_adaptive_limit():
    with_limit, _, peak_with = ambiguous_after_one_reset(adaptive=True)
    without, _, peak_without = ambiguous_after_one_reset(adaptive=False)
    # What was in flight when the connection died: about the bandwidth-delay product with the
    # limit (here 130-240 in most runs: 128 per connection at least, rate x 50 ms with 1.5x
    # headroom at most, so more on a faster sender), the server's 1,000 streams without it.
    assert with_limit <= 300, with_limit
    assert without >= 500, without
    assert without >= 3 * with_limit, (with_limit, without)
    assert peak_with < peak_without


def test_a_pinned_max_in_flight_bounds_the_streams_at_the_service():
    with FakePushService(latency=0.02) as service:
        transport = transport_for(service, max_connections=2, max_in_flight=10)
        results = asyncio.run(send_all(transport, [apns(service.url, t) for t in tokens(300)]))
        peak = service.stats.max_in_flight
    assert [getattr(r, "status_code", r) for r in results] == [200] * 300
    assert peak == 10  # used to the full, never beyond


def test_max_in_flight_must_be_positive():
    with pytest.raises(ValueError, match="max_in_flight"):
        H2Transport(max_in_flight=0)


def test_without_the_limit_the_servers_streams_are_the_only_bound():
    with FakePushService(latency=0.5) as service:
        transport = transport_for(service, max_connections=1, adaptive_limit=False)
        asyncio.run(send_all(transport, [apns(service.url, t) for t in tokens(600)]))
        peak = service.stats.max_in_flight
    assert transport.new_limiter() is None
    assert peak > 500  # everything at once: this is what the limit is for


def test_the_ceiling_is_the_servers_streams_over_every_connection_the_pool_may_open(recording):
    with FakePushService(latency=0.02, max_concurrent_streams=10) as service:
        transport = transport_for(service, max_connections=3)
        results = asyncio.run(send_all(transport, [apns(service.url, t) for t in tokens(300)]))
        peak, opened = service.stats.max_in_flight, service.connections_opened
    (limiter,) = recording
    assert all(getattr(r, "status_code", None) == 200 for r in results)
    assert limiter.ceiling == 30 and limiter.limit <= 30
    assert opened == 3 and peak <= 30
    assert len(limiter.samples) == 300 and limiter.in_flight == 0


def test_a_stream_limit_raised_later_raises_the_ceiling(recording):
    with FakePushService(
        latency=0.02, initial_max_concurrent_streams=1, max_concurrent_streams=50
    ) as service:
        transport = transport_for(service, max_connections=1)
        results = asyncio.run(send_all(transport, [apns(service.url, t) for t in tokens(300)]))
        peak = service.stats.max_in_flight
    (limiter,) = recording
    assert all(getattr(r, "status_code", None) == 200 for r in results)
    assert limiter.ceiling == 50
    assert 1 < peak <= 50


@pytest.mark.parametrize("status", ["503", "429"])
def test_overload_answers_are_drop_signals_without_samples(recording, status):
    names = tokens(20)
    with FakePushService() as service:
        for name in names[:5]:
            service.inject_fault(name, status)
        transport = transport_for(service)
        results = asyncio.run(send_all(transport, [apns(service.url, t) for t in names]))
    (limiter,) = recording
    assert sorted(getattr(r, "status_code", None) for r in results) == [200] * 15 + [int(status)] * 5
    assert limiter.drops and set(limiter.drops) == {"overload"}
    assert len(limiter.samples) == 15 and limiter.bare_releases == 5 and limiter.in_flight == 0


@pytest.mark.parametrize("goaway_every", [50, 10])
def test_a_graceful_goaway_that_refuses_streams_cuts_nothing(monkeypatch, goaway_every):
    # 60 in flight: a graceful GOAWAY (NO_ERROR) after 50 or after 10 turns the rest away unprocessed.
    # That is a server retiring a connection, not load: the refused streams are resent at once on a
    # fresh connection, and the limit is not cut (cutting it made a GOAWAY every 10 streams 5x slower).
    made: list[RecordingLimit] = []

    def new_limiter(self: H2Transport) -> RecordingLimit:
        made.append(RecordingLimit(initial=60, min_limit=60, max_limit=60))
        return made[-1]

    monkeypatch.setattr(H2Transport, "new_limiter", new_limiter)
    with FakePushService(latency=0.05, goaway_every=goaway_every) as service:
        transport = transport_for(service, max_connections=1)
        results = asyncio.run(send_all(transport, [apns(service.url, t) for t in tokens(60)]))
        goaways = service.stats.goaways_sent
    (limiter,) = made
    refused = sum(isinstance(r, RequestNotProcessed) for r in results)
    assert goaways == 1 and refused == 60 - goaway_every
    assert limiter.drops == []
    assert limiter.in_flight == 0


def test_a_goaway_that_refuses_nothing_is_no_drop(recording):
    with FakePushService(latency=0.02, goaway_every=20) as service:
        transport = transport_for(service, max_connections=1)

        async def go() -> list[httpx.Response]:
            try:
                return [await exchange(transport, apns(service.url, t)) for t in tokens(30)]
            finally:
                await transport.aclose()

        results = asyncio.run(go())  # one at a time: nothing is in flight beyond the 20th
        goaways = service.stats.goaways_sent
    (limiter,) = recording
    assert [r.status_code for r in results] == [200] * 30 and goaways == 1
    assert limiter.drops == []


def test_a_lost_connection_is_a_reset_signal(recording):
    with FakePushService(latency=5.0) as service:
        transport = transport_for(service, max_connections=1)

        async def go() -> list[httpx.Response | Exception]:
            pending = asyncio.ensure_future(
                send_all(transport, [apns(service.url, t) for t in tokens(10)], close=False)
            )
            await asyncio.sleep(0.3)
            assert service.loop is not None
            service.loop.call_soon_threadsafe(
                lambda: [p.transport.abort() for p in list(service.protocols) if p.transport]
            )
            try:
                return await asyncio.wait_for(pending, 3)
            finally:
                await transport.aclose()

        results = asyncio.run(go())
    (limiter,) = recording
    assert all(isinstance(r, httpx.ReadError) for r in results), results
    assert limiter.drops == ["reset"]  # one event, one signal (not one per stream)
    assert limiter.in_flight == 0 and not limiter.samples


def test_a_request_that_never_got_a_stream_costs_nothing(recording):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    transport = H2Transport(verify=False, timeout=httpx.Timeout(2, connect=2))
    results = asyncio.run(send_all(transport, [apns(f"https://127.0.0.1:{port}", t) for t in tokens(100)]))
    (limiter,) = recording
    assert all(isinstance(r, httpx.ConnectError) for r in results)
    assert limiter.in_flight == 0 and limiter.waiting == 0
    assert limiter.drops == [] and limiter.samples == [] and limiter.limit == QUEUE_FLOOR


def test_slots_are_handed_out_in_arrival_order():
    with FakePushService(latency=0.02) as service:
        transport = transport_for(service, max_connections=1, max_in_flight=2)
        order: list[int] = []

        async def go() -> None:
            async def one(i: int) -> None:
                await exchange(transport, apns(service.url, f"{i:064x}"))
                order.append(i)

            try:
                await asyncio.gather(*(one(i) for i in range(40)))
            finally:
                await transport.aclose()

        asyncio.run(go())
        peak = service.stats.max_in_flight
    assert peak == 2
    assert sorted(order) == list(range(40))
    assert all(abs(position - i) <= 1 for position, i in enumerate(order)), order


def test_cancelled_requests_give_their_slots_back():
    with FakePushService(latency=0.2) as service:
        transport = transport_for(service, max_connections=1, max_in_flight=3)

        async def go() -> tuple[int, int, list[int]]:
            tasks = [asyncio.ensure_future(exchange(transport, apns(service.url, t))) for t in tokens(20)]
            await asyncio.sleep(0.05)  # 3 on the wire, 17 waiting for a slot
            (limiter,) = transport.limiters().values()
            held, waiting = limiter.in_flight, limiter.waiting
            for task in tasks[5:]:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            # The streams of cancelled callers still end (answered); then every slot is back.
            started = time.monotonic()
            while limiter.in_flight and time.monotonic() - started < 3:
                await asyncio.sleep(0.02)
            after = [limiter.in_flight, limiter.waiting]
            await transport.aclose()
            return held, waiting, after

        held, waiting, after = asyncio.run(go())
    assert (held, waiting) == (3, 17)
    assert after == [0, 0]
