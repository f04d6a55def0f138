"""The adaptive concurrency limit: its control loop against a simulated service, and its asyncio slots.

The simulation is a discrete-event loop on the limiter's injected clock: a client with a backlog
sends whenever ``try_acquire()`` lets it; each request travels ``latency / 2`` (times an optional
jitter) to a single FIFO server that completes ``capacity`` requests per second, and back. So
``rtt = latency + 1/capacity + queueing delay``, and ``capacity x latency`` in flight keeps the wire
full. A reset fails everything in flight (resent later: the *ambiguous* requests).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import random
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import pytest

from django_push.transport.limit import AdaptiveLimit

L = 0.050  # seconds
C = 2000.0  # requests per second
BDP = C * L  # 100 requests in flight keep the wire full


class FakeClock:
    def __init__(self, t: float = 0.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@dataclass
class SimResult:
    completed: int = 0
    duration: float = 0.0
    mean_in_flight: float = 0.0  # = the expected in-flight at a random instant (a random reset)
    peak_in_flight: int = 0
    mean_rtt: float = 0.0
    drained_at: float | None = None  # when a finite backlog was all answered
    ambiguous: list[int] = field(default_factory=list)  # in flight at each reset
    trace: list[tuple[float, int]] = field(default_factory=list)  # (time, limit) at each change

    @property
    def throughput(self) -> float:
        return self.completed / self.duration


def simulate(
    limiter: AdaptiveLimit,
    clock: FakeClock,
    *,
    duration: float,
    latency: float = L,
    capacity: float = C,
    backlog: float = math.inf,
    jitter: float = 0.0,
    resets: tuple[float, ...] = (),
    reconnect: float = 2 * L,
    latency_change: tuple[float, float] | None = None,  # (at, new latency)
    seed: int = 1,
) -> SimResult:
    """Run ``limiter`` against the simulated service until ``duration`` (or the backlog is done)."""
    rng = random.Random(seed)
    events: list[tuple[float, int, str, int]] = []
    seq = 0
    sent_at: dict[int, float] = {}  # live requests: id -> send time
    server_queue: deque[int] = deque()
    server_busy = False
    connected = True
    result = SimResult()
    next_id = 0
    area = 0.0
    rtt_total = 0.0
    t0 = last_t = clock.t  # times below are relative to the start
    last_limit = limiter.limit

    def push(t: float, kind: str, rid: int = -1) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(events, (t, seq, kind, rid))

    def one_way() -> float:
        return latency / 2 * (1.0 + jitter * rng.random())

    def fill() -> None:
        nonlocal backlog, next_id
        while backlog > 0 and connected and limiter.try_acquire():
            backlog -= 1
            next_id += 1
            sent_at[next_id] = clock.t
            push(clock.t + one_way(), "arrive", next_id)
        result.peak_in_flight = max(result.peak_in_flight, limiter.in_flight)

    def serve_next() -> None:
        nonlocal server_busy
        while server_queue:
            rid = server_queue.popleft()
            if rid in sent_at:  # a request whose connection died is not worked on
                server_busy = True
                push(clock.t + 1.0 / capacity, "served", rid)
                return
        server_busy = False

    for t in resets:
        push(t0 + t, "reset")
    if latency_change:
        push(t0 + latency_change[0], "latency")
    push(t0 + duration, "end")
    fill()
    while events:
        t, _, kind, rid = heapq.heappop(events)
        area += limiter.in_flight * (t - last_t)
        last_t = clock.t = t
        if kind == "end":
            break
        if kind == "arrive":
            if rid in sent_at:
                server_queue.append(rid)
                if not server_busy:
                    serve_next()
        elif kind == "served":
            push(t + one_way(), "answer", rid)
            serve_next()
        elif kind == "answer":
            start = sent_at.pop(rid, None)
            if start is None:
                continue  # answered on a connection that is gone
            limiter.release(t - start)
            rtt_total += t - start
            result.completed += 1
            if backlog == 0 and not sent_at:
                result.drained_at = t - t0
                break
            fill()
        elif kind == "reset":
            lost = len(sent_at)
            result.ambiguous.append(lost)
            backlog += lost
            sent_at.clear()
            for _ in range(lost):
                limiter.on_drop("reset")  # one call per failed stream, as a transport would
                limiter.release()
            connected = False
            push(t + reconnect, "connected")
        elif kind == "connected":
            connected = True
            fill()
        elif kind == "latency":
            assert latency_change
            latency = latency_change[1]
        if limiter.limit != last_limit:
            last_limit = limiter.limit
            result.trace.append((t - t0, last_limit))
    for _ in sent_at:  # the run ends: what is still in flight is abandoned
        limiter.release()
    result.duration = last_t - t0
    result.mean_in_flight = area / result.duration
    result.mean_rtt = rtt_total / max(result.completed, 1)
    return result


def make(clock: FakeClock, **kwargs: Any) -> AdaptiveLimit:
    return AdaptiveLimit(clock=clock, **kwargs)


def fixed(clock: FakeClock, n: int) -> AdaptiveLimit:
    return AdaptiveLimit(initial=n, min_limit=n, max_limit=n, clock=clock)


def limit_at(result: SimResult, t: float, initial: int) -> int:
    value = initial
    for when, limit in result.trace:
        if when > t:
            break
        value = limit
    return value


# -- convergence -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("latency", "capacity", "jitter"),
    [
        (0.050, 2000.0, 0.0),
        (0.050, 2000.0, 0.2),
        (0.050, 2000.0, 0.5),
        (0.020, 5000.0, 0.0),
        (0.100, 500.0, 0.1),
        (0.010, 1000.0, 0.0),
        (0.002, 20000.0, 0.3),  # a LAN: windows are min_window long, not one RTT
    ],
)
def test_converges_near_the_bandwidth_delay_product(latency, capacity, jitter):
    clock = FakeClock()
    limiter = make(clock)
    result = simulate(limiter, clock, duration=8.0, latency=latency, capacity=capacity, jitter=jitter)
    bdp = capacity * latency * (1 + jitter / 2)
    late = [limit for t, limit in result.trace if t > 3.0] or [limiter.limit]
    assert 0.8 * bdp <= min(late) and max(late) <= 2.5 * bdp, (bdp, min(late), max(late))
    assert result.throughput >= 0.95 * capacity


def test_slow_start_reaches_100_within_a_few_round_trips():
    clock = FakeClock()
    limiter = make(clock)  # initial=20
    result = simulate(limiter, clock, duration=1.0)
    reached = next(t for t, limit in result.trace if limit >= 100)
    assert reached <= 5 * L, reached


def test_a_broadcast_of_1000_does_not_crawl():
    clock = FakeClock()
    adaptive = simulate(make(clock), clock, duration=10.0, backlog=1000)
    clock = FakeClock()
    wide = simulate(fixed(clock, 500), clock, duration=10.0, backlog=1000)
    assert adaptive.drained_at is not None and wide.drained_at is not None
    # 1,000 at 2,000/s take 0.55 s however many are in flight; the ramp from 20 costs a few RTTs.
    assert adaptive.drained_at <= wide.drained_at + 4 * L, (adaptive.drained_at, wide.drained_at)


def test_in_flight_at_a_reset_is_small_and_throughput_is_kept():
    """Against a fixed 500: the same throughput with a fifth of the streams (and of the round trip)."""
    clock = FakeClock()
    adaptive = simulate(make(clock), clock, duration=30.0)
    clock = FakeClock()
    wide = simulate(fixed(clock, 500), clock, duration=30.0)
    assert adaptive.mean_in_flight <= 200, adaptive.mean_in_flight
    assert adaptive.throughput >= 0.9 * wide.throughput, (adaptive.throughput, wide.throughput)
    assert wide.mean_in_flight > 450  # what a reset takes today
    assert adaptive.mean_rtt < 0.5 * wide.mean_rtt


def test_with_resets_each_one_takes_fewer_streams_and_throughput_is_kept():
    resets = tuple(1.0 + 2.0 * i + 0.37 * (i % 3) for i in range(14))
    clock = FakeClock()
    adaptive = simulate(make(clock), clock, duration=30.0, resets=resets)
    clock = FakeClock()
    wide = simulate(fixed(clock, 500), clock, duration=30.0, resets=resets)
    assert sum(adaptive.ambiguous) / len(resets) <= 200, adaptive.ambiguous
    assert sum(wide.ambiguous) / len(resets) >= 450, wide.ambiguous
    assert adaptive.throughput >= 0.9 * wide.throughput, (adaptive.throughput, wide.throughput)


def test_a_slower_path_is_relearned():
    clock = FakeClock()
    limiter = make(clock)
    result = simulate(limiter, clock, duration=12.0, latency_change=(4.0, 0.080))
    assert limiter.rtt_min is not None and limiter.rtt_min >= 0.080
    late = [limit for t, limit in result.trace if t > 7.0] or [limiter.limit]
    assert min(late) >= 0.8 * C * 0.080, late


def test_a_faster_path_is_learned_at_once():
    clock = FakeClock()
    limiter = make(clock)
    simulate(limiter, clock, duration=6.0, latency_change=(3.0, 0.020))
    assert limiter.rtt_min is not None and limiter.rtt_min < 0.021
    assert limiter.limit <= 2.5 * C * 0.020


def test_rtt_min_stays_put_under_our_own_standing_queue():
    """No creep: probes drain our queue, so the minimum stays the service's, not ours."""
    clock = FakeClock()
    limiter = make(clock, rtt_min_window=1.0)
    simulate(limiter, clock, duration=20.0)
    assert limiter.rtt_min is not None and limiter.rtt_min <= (L + 1 / C) * 1.01


def test_idle_keeps_the_limit():
    clock = FakeClock()
    limiter = make(clock)
    simulate(limiter, clock, duration=3.0)
    learned = limiter.limit
    clock.t += 600.0
    limiter.on_success(L)
    assert limiter.limit == learned


# -- drops -------------------------------------------------------------------------------------


def primed(clock: FakeClock, limit: int = 100) -> AdaptiveLimit:
    """A limiter out of slow start at ``limit``, with rtt_min = L."""
    limiter = make(clock, initial=limit)
    limiter._slow_start = False
    clock.t += 1.0
    limiter.on_success(L)  # a window that sets rtt_min
    clock.t += L
    limiter.on_success(L)  # one that sets the smoothed RTT (and sees no demand: no growth)
    assert limiter.limit == limit and limiter.rtt_min == L
    return limiter


def test_a_reset_cuts_multiplicatively_and_a_burst_counts_once():
    clock = FakeClock()
    limiter = primed(clock, 100)
    limiter.on_drop("reset")
    assert limiter.limit == 70
    for _ in range(99):  # the other streams the same reset failed
        clock.t += 0.0001
        limiter.on_drop("reset")
    assert limiter.limit == 70
    clock.t += L  # the next round trip: a new event
    limiter.on_drop("reset")
    assert limiter.limit == 49


def test_a_sharper_drop_in_the_same_round_trip_deepens_the_cut_to_its_own_factor():
    clock = FakeClock()
    limiter = primed(clock, 100)
    limiter.on_drop("goaway")
    assert limiter.limit == 80
    limiter.on_drop("overload")
    assert limiter.limit == 50
    limiter.on_drop("reset")
    assert limiter.limit == 50


def test_drops_end_slow_start_and_growth_after_a_drop_is_additive():
    clock = FakeClock()
    limiter = make(clock)
    result = simulate(limiter, clock, duration=3.0, resets=(1.0,), reconnect=0.001)
    before = limit_at(result, 0.999, 20)
    after = [(t, limit) for t, limit in result.trace if t >= 1.0]
    assert after[0][1] == int(before * 0.7)
    steps = [b - a for (_, a), (_, b) in itertools.pairwise(after)]
    assert all(step <= 3 for step in steps), steps  # about log10(limit) per round trip, never doubling
    assert max(limit for _, limit in after) >= 0.95 * before  # and back where it was


def test_overload_storm_shrinks_once_per_round_trip():
    clock = FakeClock()
    limiter = primed(clock, 400)
    limits = []
    for _ in range(4):  # four round trips of 503s, 50 per round trip
        for _ in range(50):
            limiter.on_drop("overload")
            clock.t += L / 50
        limits.append(limiter.limit)
    assert limits == [200, 100, 50, 25]


def test_unknown_drop_kind_is_refused():
    with pytest.raises(ValueError, match="unknown drop kind"):
        AdaptiveLimit().on_drop("timeout")


# -- bounds ------------------------------------------------------------------------------------


def test_never_above_the_ceiling_nor_max_limit():
    clock = FakeClock()
    limiter = make(clock, max_limit=300)
    limiter.set_ceiling(60)
    result = simulate(limiter, clock, duration=3.0, capacity=10000.0)  # BDP 500
    assert result.peak_in_flight <= 60 and limiter.limit == 60
    limiter.set_ceiling(1000)
    result = simulate(limiter, clock, duration=3.0, capacity=10000.0)
    assert result.peak_in_flight <= 300 and max(limit for _, limit in result.trace) <= 300


def test_growth_stops_at_the_ceiling_and_resumes_from_it():
    clock = FakeClock()
    limiter = make(clock)
    limiter.set_ceiling(30)
    simulate(limiter, clock, duration=1.0)
    assert limiter._est <= 30  # no silent growth behind the ceiling
    limiter.set_ceiling(None)
    assert limiter.limit == 30


def test_a_ceiling_below_min_limit_wins():
    limiter = AdaptiveLimit(min_limit=10)
    limiter.set_ceiling(4)
    assert limiter.limit == 4
    assert [limiter.try_acquire() for _ in range(5)] == [True] * 4 + [False]


def test_never_below_min_limit():
    clock = FakeClock()
    limiter = make(clock, initial=8, min_limit=5)
    for _ in range(20):
        clock.t += 1.0
        limiter.on_drop("overload")
    assert limiter.limit == 5
    # A service whose RTT keeps climbing (a queue not ours) does not push it below either.
    for i in range(200):
        clock.t += 0.05 * (1 + i / 10)
        limiter.on_success(0.05 * (1 + i / 10))
    assert limiter.limit >= 5


def test_no_growth_without_demand():
    clock = FakeClock()
    limiter = make(clock, initial=50)
    for _ in range(200):  # 10 in flight at a time, far below the limit
        for _ in range(10):
            assert limiter.try_acquire()
        clock.t += L
        for _ in range(10):
            limiter.release(L)
    assert limiter.limit == 50


def test_constructor_checks():
    with pytest.raises(ValueError):
        AdaptiveLimit(min_limit=0)
    with pytest.raises(ValueError):
        AdaptiveLimit(min_limit=10, max_limit=5)
    with pytest.raises(ValueError):
        AdaptiveLimit(headroom=0.5)
    with pytest.raises(ValueError):
        AdaptiveLimit(backoff={"reset": 1.5})
    assert AdaptiveLimit(initial=5000).limit == 1000


# -- slots -------------------------------------------------------------------------------------


def test_try_acquire_and_release_accounting():
    limiter = AdaptiveLimit(initial=3)
    assert [limiter.try_acquire() for _ in range(4)] == [True, True, True, False]
    assert limiter.in_flight == 3
    for _ in range(3):
        limiter.release()
    assert limiter.in_flight == 0
    with pytest.raises(RuntimeError):
        limiter.release()
    assert limiter.in_flight == 0


def test_waiters_wake_on_release_in_fifo_order():
    async def main() -> list[int]:
        limiter = AdaptiveLimit(initial=2)
        order: list[int] = []

        async def worker(i: int) -> None:
            await limiter.acquire()
            order.append(i)

        await limiter.acquire()
        await limiter.acquire()
        tasks = [asyncio.create_task(worker(i)) for i in range(5)]
        await asyncio.sleep(0)
        assert limiter.waiting == 5 and not order
        assert not limiter.try_acquire()  # no barging past the queue
        for expected in range(5):
            limiter.release()
            await asyncio.sleep(0)
            assert order == list(range(expected + 1))
        await asyncio.gather(*tasks)
        assert limiter.in_flight == 2
        return order

    assert asyncio.run(main()) == [0, 1, 2, 3, 4]


def test_a_raised_ceiling_wakes_waiters():
    async def main() -> None:
        limiter = AdaptiveLimit(initial=50)
        limiter.set_ceiling(1)
        await limiter.acquire()
        task = asyncio.create_task(limiter.acquire())
        await asyncio.sleep(0)
        assert not task.done()
        limiter.set_ceiling(2)
        await asyncio.wait_for(task, 1)
        assert limiter.in_flight == 2

    asyncio.run(main())


def test_a_cancelled_waiter_does_not_leak_a_slot():
    async def main() -> None:
        limiter = AdaptiveLimit(initial=1)
        await limiter.acquire()
        first = asyncio.create_task(limiter.acquire())
        second = asyncio.create_task(limiter.acquire())
        await asyncio.sleep(0)
        first.cancel()  # cancelled while queued
        await asyncio.sleep(0)
        assert first.cancelled() and limiter.waiting == 1
        limiter.release()
        await asyncio.wait_for(second, 1)
        assert limiter.in_flight == 1
        limiter.release()
        assert limiter.in_flight == 0

    asyncio.run(main())


def test_a_waiter_cancelled_after_being_handed_the_slot_passes_it_on():
    async def main() -> None:
        limiter = AdaptiveLimit(initial=1)
        await limiter.acquire()
        first = asyncio.create_task(limiter.acquire())
        second = asyncio.create_task(limiter.acquire())
        await asyncio.sleep(0)
        limiter.release()  # hands the slot to `first`...
        first.cancel()  # ...which is cancelled before it runs
        await asyncio.sleep(0)
        await asyncio.wait_for(second, 1)
        assert first.cancelled()
        assert limiter.in_flight == 1
        limiter.release()
        assert limiter.in_flight == 0 and limiter.waiting == 0

    asyncio.run(main())


def test_timeouts_on_acquire_do_not_leak():
    async def main() -> None:
        limiter = AdaptiveLimit(initial=1)
        await limiter.acquire()
        for _ in range(10):
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(limiter.acquire(), 0.001)
        assert limiter.in_flight == 1 and limiter.waiting == 0
        limiter.release()
        assert limiter.try_acquire()

    asyncio.run(main())


def test_slot_context_samples_on_success_and_releases_on_error():
    async def main() -> None:
        clock = FakeClock()
        limiter = AdaptiveLimit(initial=2, clock=clock)
        async with limiter.slot() as slot:
            assert limiter.in_flight == 1
            clock.t += 0.04
        assert limiter.in_flight == 0 and limiter.rtt_min == pytest.approx(0.04)
        with pytest.raises(OSError):
            async with limiter.slot():
                clock.t += 0.01
                raise OSError("connection reset")
        assert limiter.in_flight == 0 and limiter._n == 0  # no sample from a failure
        async with limiter.slot() as slot:
            clock.t += 0.001
        assert limiter._n == 1  # one from an answer (the window runs on: 40 ms)
        async with limiter.slot() as slot:
            slot.drop("overload")
        assert limiter.in_flight == 0 and limiter._n == 0  # no sample, and the drop restarted the window
        assert limiter.limit == 1

    asyncio.run(main())


def test_in_flight_is_never_negative_under_random_use():
    async def main() -> None:
        rng = random.Random(7)
        clock = FakeClock()
        limiter = AdaptiveLimit(initial=5, clock=clock)
        held = 0
        tasks: list[asyncio.Task[None]] = []
        for _ in range(3000):
            action = rng.random()
            clock.t += rng.random() * 0.01
            if action < 0.3:
                tasks.append(asyncio.create_task(limiter.acquire()))
            elif action < 0.45 and tasks:
                rng.choice(tasks).cancel()
            elif action < 0.55:
                held += limiter.try_acquire()
            elif action < 0.6:
                limiter.on_drop(rng.choice(["reset", "goaway", "overload"]))
            elif action < 0.62:
                limiter.set_ceiling(rng.choice([None, 0, 3, 50]))
            elif held:
                limiter.release(rng.random() * 0.1 if action < 0.9 else None)
                held -= 1
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            held += sum(1 for t in tasks if t.done() and not t.cancelled())
            tasks = [t for t in tasks if not t.done()]
            assert 0 <= limiter.in_flight == held
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        assert limiter.in_flight == held
        for _ in range(held):
            limiter.release()
        assert limiter.in_flight == 0 and limiter.waiting == 0

    asyncio.run(main())


# -- cost --------------------------------------------------------------------------------------


def bench(n: int = 100_000, repeat: int = 5) -> dict[str, float]:
    """µs per request (best of ``repeat``): acquire + release + on_success, three ways."""

    def sync() -> float:
        limiter = AdaptiveLimit(initial=100)
        start = time.perf_counter()
        for _ in range(n):
            limiter.try_acquire()
            limiter.release(0.05)
        return (time.perf_counter() - start) / n * 1e6

    async def awaited() -> float:
        limiter = AdaptiveLimit(initial=100)
        start = time.perf_counter()
        for _ in range(n):
            await limiter.acquire()
            limiter.on_success(0.05)
            limiter.release()
        return (time.perf_counter() - start) / n * 1e6

    async def slot() -> float:
        limiter = AdaptiveLimit(initial=100)
        start = time.perf_counter()
        for _ in range(n):
            async with limiter.slot():
                pass
        return (time.perf_counter() - start) / n * 1e6

    return {
        "try_acquire+release(rtt)": min(sync() for _ in range(repeat)),
        "await acquire+on_success+release": min(asyncio.run(awaited()) for _ in range(repeat)),
        "async with slot()": min(asyncio.run(slot()) for _ in range(repeat)),
    }


def test_per_request_cost_is_small():
    figures = bench(20_000, repeat=3)
    assert max(figures.values()) < 10, figures  # about 1 µs on an idle core; generous for shared CI


def test_under_asyncio_with_the_real_clock():
    """Many tasks through ``slot()``: never more in flight than the limit, nothing left held."""

    async def main() -> tuple[int, int]:
        limiter = AdaptiveLimit(initial=4)
        peak = top = 0

        async def request() -> None:
            nonlocal peak, top
            top = max(top, limiter.limit)
            async with limiter.slot():
                top = max(top, limiter.limit)  # (a limit may shrink under slots already held)
                peak = max(peak, limiter.in_flight)
                assert peak <= top
                await asyncio.sleep(0.01)  # long beside scheduling noise on a busy machine

        await asyncio.gather(*(request() for _ in range(400)))
        assert limiter.in_flight == 0 and limiter.waiting == 0
        return peak, top

    peak, limit = asyncio.run(main())
    assert peak > 4 and limit > 4  # it grew: the demand was there and the "service" never queued


def test_the_module_imports_only_the_standard_library():
    import ast
    import sys

    from django_push.transport import limit

    with open(limit.__file__, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "no relative imports"
            names.add((node.module or "").split(".")[0])
    assert names <= set(sys.stdlib_module_names), names - set(sys.stdlib_module_names)


# -- queue floor ----------------------------------------------------------------------------------


def test_round_trip_times_alone_never_cut_below_the_queue_floor():
    # 300 in flight against a BDP of 100: a standing queue of 200 that Vegas would cut away.
    clock = FakeClock()
    limiter = make(clock, initial=300, min_limit=8, queue_floor=300)
    result = simulate(limiter, clock, duration=5.0)
    assert min(limit for _, limit in result.trace or [(0.0, limiter.limit)]) >= 300
    assert limiter.limit >= 300
    # Without the floor the same run settles near the BDP.
    clock = FakeClock()
    plain = make(clock, initial=300, min_limit=8)
    simulate(plain, clock, duration=5.0)
    assert plain.limit < 200


def test_drops_cut_below_the_queue_floor_and_it_grows_back_additively():
    clock = FakeClock()
    limiter = make(clock, initial=64, min_limit=8, queue_floor=64)
    result = simulate(limiter, clock, duration=6.0, resets=(1.0, 1.2, 1.4))
    lowest = min(limit for t, limit in result.trace if 1.0 <= t <= 1.5)
    assert lowest < 64 * 0.7  # the resets cut below the floor
    # Back to the floor, step by step (additive: no doubling), once the drops stop.
    assert limit_at(result, 6.0, 64) >= 64
    steps = zip(result.trace, result.trace[1:], strict=False)
    below = [(a, b) for (_, a), (_, b) in steps if a < 64 and b > a]
    assert below and all(b - a <= 3 for a, b in below)
