"""An adaptive limit on concurrent requests: enough in flight to keep the wire full, and no more.

Why: one connection reset takes every in-flight stream with it, and those requests become
*ambiguous* (the service may have delivered them), so they are resent collapse-keyed and may show
up twice. What a reset costs is proportional to what was in flight, while throughput only needs
``throughput x round-trip time`` in flight (Little's law: the bandwidth-delay product, BDP). At
50 ms and 2,000 requests/s that is 100 streams; a fixed 500 buys no throughput, only a queue at the
service (250 ms round trips) and five times the duplicates per reset. This module finds the BDP
as it changes, in the spirit of TCP Vegas, BBR and Netflix's ``concurrency-limits`` (Vegas,
Gradient2), for the transport to enforce.

How (:class:`AdaptiveLimit`): completions feed RTT samples; once per *window* of about one
round trip the limit is revised from what the window saw:

* ``rtt_min``: the lowest RTT seen, the service with no queue. It is lowered at once and kept
  while windows keep coming back within 5% of it. An *RTT probe* measures it afresh when no window
  has confirmed it for ``rtt_min_window`` seconds, when the standing queue has cut the limit for 8
  windows in a row (a delay that does not go away however little is sent is not ours), or when it
  fell by more than 5% (a faster path, by how much a queue of ours may hide). The probe halves the
  limit, and halves it again while the service keeps completing at its full rate (it was never
  idle, so a queue of ours remained), to 1/16 at most; the lowest RTT it sees becomes ``rtt_min``
  and the limit is restored (on a faster path, to no more than ``headroom x BDP`` at the new RTT;
  on a slower one, slow start resumes: the limit learned is stale). A probe costs about a round
  trip at reduced rate per ``rtt_min_window`` at most (BBR's PROBE_RTT). It is how the minimum
  forgets, without the creep a decaying minimum has under a standing queue: it would drift up
  through the queue this client makes, the limit with it, and the queue with that.
* the standing queue at the service, by Little's law: ``completion rate x (window's lowest RTT -
  rtt_min)`` requests. The window's *lowest* RTT, not its mean, as CoDel does: a queue that stays
  raises every sample, while jitter raises only some. Vegas on the mean reads jitter as queue and
  starves (simulated: with 20% jitter it holds the limit at 60% of the BDP, and throughput with it).
* slow start: the limit doubles every window the limit was reached (demand exceeded it), until
  the first drop or a queue shows (mean-RTT estimate over ``beta``, or a standing queue over
  ``alpha``). It then falls back to the higher of Vegas' reading of the pipe (``limit x rtt_min /
  mean RTT``) and ``headroom x BDP`` (the rate lags a doubling limit by a round trip, so alone it
  reads low). From 20, at 50 ms and 2,000/s, it passes 100 after four round trips (0.21 s) and
  settles at 113 within 0.6 s.
* congestion avoidance (Vegas): a standing queue under ``alpha`` grows the limit by about
  ``log10(limit)`` per window, if the limit was reached (no growth on behalf of demand that is not
  there) and the limit is below ``headroom x BDP``, where BDP = the best completion rate of the last
  ``rate_windows`` windows x ``rtt_min``: more in flight than that buys no throughput. A standing
  queue over ``beta`` shrinks it by half the excess (at least ``log10(limit)``) per window. ``alpha``
  and ``beta`` are ``3`` and ``6 x log10(limit)`` requests, as in Netflix's Vegas. The limit so
  settles at the BDP plus a few requests of queue: the wire stays full and the service is never idle.
* drops (:meth:`AdaptiveLimit.on_drop`): a connection reset, a GOAWAY, an overload storm
  (429/503) cut the limit multiplicatively at once (``backoff``), end slow start, and count once
  per round trip: the hundred failures one reset produces cut it once, not a hundred times
  (a sharper kind within the same round trip deepens the cut to its own factor).
* ceiling (:meth:`AdaptiveLimit.set_ceiling`): the server's MAX_CONCURRENT_STREAMS times the
  connections; never exceeded (it is protocol; it wins over ``min_limit``), and growth stops at it.
* floor (``queue_floor``, optional): round-trip times alone never cut the limit below it; only drops
  do (down to ``min_limit``), and below it the limit grows back additively while demand exceeds it.
  For senders whose own CPU lengthens round trips in proportion to what is in flight (event-loop
  lag reads like a queue at the service), and for which a few dozen streams cost less CPU per
  request than a few (the transport sets it per connection; see ``h2.QUEUE_FLOOR``).

Per request the limiter does a few attribute updates and one clock read; the window's arithmetic
runs once per round trip. (No per-sample smoothing parameter: a window's mean and minimum over a
round trip of samples are the smoothing, cheaper per sample than an EWMA, and the limit changes
only once per window anyway.) Its waiting is asyncio's: :meth:`AdaptiveLimit.acquire` queues FIFO when
the limit is reached and is woken by a release (or a raised limit); a cancelled waiter never keeps
or loses a slot. It imports nothing but the standard library.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

__all__ = ["DEFAULT_BACKOFF", "AdaptiveLimit", "Slot"]

DEFAULT_BACKOFF: Mapping[str, float] = {
    # 429/503 storm: the service says it is overloaded: halve, as TCP Reno does on loss.
    "overload": 0.5,
    # Connection lost: the cause is unknown (network, restart, load balancer), but its cost is what
    # was in flight, so shrink what the next one can take while the path proves itself again.
    "reset": 0.7,
    # GOAWAY: the server retires the connection; streams it did not accept come back as safe to
    # resend, so it is the mildest signal (a shed-load GOAWAY is better reported as "overload").
    "goaway": 0.8,
}
_REFRESH = 1.05  # a window whose lowest RTT is within 5% of rtt_min confirms it
_PROBE_FACTOR = 0.5  # an RTT probe halves the limit (again while the service stays saturated)
_PROBE_WINDOWS = 2  # per step: one window to drain, one to measure
_PROBE_STEPS = 4  # halvings at most: to 1/16 of the limit
_PROBE_BUSY = 0.9  # a completion rate this close to the best one: the service is still saturated
_PROBE_AFTER_CUTS = 8  # consecutive queue-driven cuts that call for a probe
_INF = math.inf


class AdaptiveLimit:
    """How many requests may be in flight; learns it from round-trip times and drops.

    Use either ``async with limiter.slot() as slot: ...`` (the RTT sample is taken on a normal
    exit; call ``slot.drop(kind)`` for a failure that is a drop signal), or ``await acquire()``/
    ``try_acquire()`` then ``release(rtt)`` (``release()`` without an RTT for a failure), plus
    :meth:`on_drop` for resets, GOAWAYs and overload answers. Any request that got an answer, even
    an error status, is a fair RTT sample; one that failed is not.

    Not thread-safe: use it from one event loop (as the transport does), or one thread.
    """

    __slots__ = (
        "_backoff",
        "_ceiling",
        "_clock",
        "_decreases",
        "_drop_base",
        "_drop_factor",
        "_drop_until",
        "_dropped",
        "_est",
        "_headroom",
        "_in_flight",
        "_lim",
        "_max",
        "_min",
        "_min_window",
        "_n",
        "_probe",
        "_probe_min",
        "_probe_saved",
        "_qfloor",
        "_rates",
        "_rtt_min",
        "_rtt_min_stamp",
        "_rtt_min_window",
        "_rtt_sum",
        "_saturated",
        "_slow_start",
        "_srtt",
        "_waiters",
        "_win_end",
        "_win_min",
        "_win_start",
    )

    def __init__(
        self,
        *,
        initial: int = 20,
        min_limit: int = 1,
        max_limit: int = 1000,
        headroom: float = 1.5,
        rtt_min_window: float = 10.0,
        min_window: float = 0.005,
        rate_windows: int = 10,
        backoff: Mapping[str, float] | None = None,
        clock: Callable[[], float] = time.monotonic,
        queue_floor: int | None = None,
    ) -> None:
        """
        ``initial``: the limit before anything is known (slow start grows it from there).
        ``min_limit``/``max_limit``: the limit stays within them (a ceiling below ``min_limit``
        wins). ``headroom``: how far above the measured BDP growth may go (1.5: 50% above).
        ``rtt_min_window``: seconds a minimum RTT is trusted without a window confirming it.
        ``min_window``: the shortest revision window in seconds (windows last one smoothed RTT);
        it keeps sub-millisecond round trips from revising the limit on a handful of samples.
        ``rate_windows``: how many windows the completion rate's maximum is taken over.
        ``backoff``: the multiplicative cut per drop kind (defaults: :data:`DEFAULT_BACKOFF`).
        ``clock``: seconds, monotonic; injected by tests.
        ``queue_floor``: the lowest limit round-trip times alone may cut to (default: ``min_limit``);
        only drops go below it (to ``min_limit``), and the limit then grows back to it by about
        ``log10(limit)`` per window while demand exceeds it (additive increase, as TCP after a
        loss). An ``initial`` limit below it doubles up to it in slow start, and is raised to it
        when slow start ends without a drop. For paths where a longer RTT under load is CPU time,
        not a queue (a fast local service), and where a few dozen requests in flight are cheaper
        per request than a few.
        """
        if not 1 <= min_limit <= max_limit:
            raise ValueError("need 1 <= min_limit <= max_limit")
        if headroom < 1.0:
            raise ValueError("headroom must be >= 1")
        if rtt_min_window <= 0 or min_window <= 0 or rate_windows < 1:
            raise ValueError("windows must be positive")
        backoff = dict(DEFAULT_BACKOFF if backoff is None else backoff)
        if not all(0.0 < f < 1.0 for f in backoff.values()):
            raise ValueError("backoff factors must be in (0, 1)")
        self._backoff = backoff
        self._clock = clock
        self._min = min_limit
        self._max = max_limit
        self._headroom = headroom
        self._rtt_min_window = rtt_min_window
        self._min_window = min_window
        self._ceiling: int | None = None
        self._qfloor = float(min(max(queue_floor or min_limit, min_limit), max_limit))
        self._dropped = False  # drops took the limit below the floor (it regrows additively)
        self._est = float(min(max(initial, min_limit), max_limit))  # the limit, unrounded
        self._lim = int(self._est)  # what acquire() enforces: _est rounded, clamped, ceilinged
        self._in_flight = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._saturated = False  # the limit was reached during this window (demand exceeded it)
        now = clock()
        # The current window's samples.
        self._win_start = now
        self._win_end = now + min_window
        self._n = 0
        self._rtt_sum = 0.0
        self._win_min = _INF
        # What the windows taught.
        self._rtt_min = _INF
        self._rtt_min_stamp = now
        self._srtt = 0.0  # the last window's mean RTT
        self._rates: deque[float] = deque(maxlen=rate_windows)  # completions/s, one per window
        self._slow_start = True
        self._decreases = 0  # consecutive windows the standing queue cut the limit
        self._probe = 0  # windows left in an RTT probe
        self._probe_min = _INF
        self._probe_saved = 0.0  # the limit to restore after the probe
        self._drop_until = -_INF  # drops before this are the same event as the last one
        self._drop_base = 0.0
        self._drop_factor = 1.0

    # -- state ---------------------------------------------------------------------------------

    @property
    def limit(self) -> int:
        """How many requests may be in flight now."""
        return self._lim

    @property
    def in_flight(self) -> int:
        """Slots held: acquired (or handed to a waiter) and not yet released."""
        return self._in_flight

    @property
    def waiting(self) -> int:
        """Coroutines queued in :meth:`acquire` (cancelled ones may linger until woken past)."""
        return len(self._waiters)

    @property
    def rtt_min(self) -> float | None:
        """The service's round trip with no queue, as last learned; None before any sample."""
        return None if self._rtt_min == _INF else self._rtt_min

    @property
    def ceiling(self) -> int | None:
        return self._ceiling

    def snapshot(self) -> dict[str, Any]:
        """The limiter's state, for logs and metrics."""
        return {
            "limit": self._lim,
            "in_flight": self._in_flight,
            "waiting": len(self._waiters),
            "ceiling": self._ceiling,
            "rtt_min": self.rtt_min,
            "srtt": self._srtt or None,
            "rate": max(self._rates) if self._rates else None,
            "slow_start": self._slow_start,
            "probing": bool(self._probe),
        }

    def __repr__(self) -> str:
        return f"<AdaptiveLimit limit={self._lim} in_flight={self._in_flight} waiting={len(self._waiters)}>"

    # -- slots ---------------------------------------------------------------------------------

    def try_acquire(self) -> bool:
        """Take a slot if one is free and nobody is queued for one (FIFO); never waits."""
        n = self._in_flight
        if n >= self._lim or self._waiters:
            self._saturated = True
            return False
        n += 1
        self._in_flight = n
        if n >= self._lim:
            self._saturated = True
        return True

    async def acquire(self, *, first: bool = False) -> None:
        """Take a slot, waiting FIFO while the limit is reached. Cancellation-safe.

        ``first``: wait at the head of the queue, not its tail: for a request that already had
        its turn and was turned away unprocessed (a refused stream, a GOAWAY above it), so that a
        resend keeps its place in line instead of queueing behind everything that came after.

        Bound the wait with ``asyncio.timeout()``/``wait_for``: a waiter cancelled before it got
        its slot leaves the queue, and one cancelled after passes the slot on.
        """
        n = self._in_flight
        if n < self._lim and (first or not self._waiters):
            n += 1
            self._in_flight = n
            if n >= self._lim:
                self._saturated = True
            return
        await self._wait(first)

    async def _wait(self, first: bool = False) -> None:
        self._saturated = True
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if first:
            self._waiters.appendleft(fut)
        else:
            self._waiters.append(fut)
        try:
            await fut
        except BaseException:
            if fut.done() and not fut.cancelled():
                self.release()  # the slot was handed over, but nobody will use it: pass it on
            else:
                with contextlib.suppress(ValueError):  # _wake() may have popped it already
                    self._waiters.remove(fut)
                self._wake()
            raise

    def release(self, rtt: float | None = None) -> None:
        """Give a slot back; with ``rtt`` (seconds) the request was answered: an RTT sample."""
        if self._in_flight <= 0:
            raise RuntimeError("release() without a matching acquire()")
        if rtt is not None:
            self.on_success(rtt)  # may raise the limit and hand slots to waiters: count after it
        self._in_flight -= 1
        if self._waiters:
            self._wake()

    def slot(self) -> Slot:
        """``async with limiter.slot() as slot:``: acquire, time the request, release."""
        return Slot(self)

    def _wake(self) -> None:
        """Hand free slots to waiters, oldest first (the count moves with the slot)."""
        waiters = self._waiters
        while waiters and self._in_flight < self._lim:
            fut = waiters.popleft()
            if not fut.done():  # cancelled ones are skipped
                fut.set_result(None)
                self._in_flight += 1
                self._saturated = True  # demand was waiting for this slot

    # -- signals -------------------------------------------------------------------------------

    def on_success(self, rtt: float) -> None:
        """An answered request's round trip, in seconds (a slot's lifetime). Non-positive ignored."""
        if 0.0 < rtt < _INF:
            self._n += 1
            self._rtt_sum += rtt
            if rtt < self._win_min:
                self._win_min = rtt
            now = self._clock()
            if now >= self._win_end:
                self._end_window(now)

    def on_drop(self, kind: str) -> None:
        """A drop signal: ``"reset"`` (connection lost with streams on it), ``"goaway"``, or
        ``"overload"`` (429/503). Cuts the limit by ``backoff[kind]``, once per round trip."""
        try:
            factor = self._backoff[kind]
        except KeyError:
            raise ValueError(f"unknown drop kind {kind!r}; expected one of {sorted(self._backoff)}") from None
        now = self._clock()
        if now < self._drop_until:  # the same event: only a sharper kind deepens the cut
            if factor >= self._drop_factor:
                return
            self._drop_factor = factor
        else:
            self._drop_base = self._probe_saved if self._probe else self._est
            self._drop_factor = factor
            span = max(self._srtt, self._min_window)
            if self._rtt_min < _INF:
                span = max(span, self._rtt_min)
            self._drop_until = now + span
            # What the window collected was sent before the drop: start afresh.
            self._n, self._rtt_sum, self._win_min = 0, 0.0, _INF
            self._saturated = self._in_flight >= self._lim or bool(self._waiters)
            self._win_start, self._win_end = now, now + span
        target = max(self._drop_base * factor, float(self._min))
        if target < self._qfloor:
            self._dropped = True
        self._slow_start = False
        self._decreases = 0
        if self._probe:
            self._probe_saved = min(self._probe_saved, target)
        self._est = min(self._est, target)
        self._set_limit()

    def set_ceiling(self, n: int | None) -> None:
        """The most streams the server allows in total (MAX_CONCURRENT_STREAMS x connections);
        None for no ceiling. The limit never exceeds it, even below ``min_limit``."""
        if n is not None and n < 0:
            raise ValueError("ceiling must be >= 0")
        self._ceiling = n
        self._set_limit()

    # -- the once-per-window revision ----------------------------------------------------------

    def _set_limit(self) -> None:
        lim = int(self._est)
        if self._ceiling is not None and lim > self._ceiling:
            lim = self._ceiling
        raised = lim > self._lim
        self._lim = lim
        if raised and self._waiters:
            self._wake()

    def _end_window(self, now: float) -> None:
        n = self._n
        mean = self._rtt_sum / n
        low = self._win_min
        length = now - self._win_start
        planned = self._win_end - self._win_start
        saturated = self._saturated
        self._n, self._rtt_sum, self._win_min = 0, 0.0, _INF
        self._saturated = self._in_flight >= self._lim or bool(self._waiters)
        self._srtt = mean
        self._win_start = now
        self._win_end = now + max(mean, self._min_window)

        rtt_min = self._rtt_min
        faster = low * _REFRESH < rtt_min < _INF  # the path got faster, or a queue drained
        if low <= rtt_min * _REFRESH:  # confirmed (or lowered)
            if low < rtt_min:
                self._rtt_min = rtt_min = low
            self._rtt_min_stamp = now
        if self._probe:
            self._probe_min = min(self._probe_min, low)
            self._probe -= 1
            if self._probe % _PROBE_WINDOWS == 0:  # the end of a step's measuring window
                rates = self._rates  # their mean: one window's burst must not set the bar
                busy = bool(rates) and length <= 2.0 * planned
                busy = busy and n / length >= _PROBE_BUSY * sum(rates) / len(rates)
                if busy and self._probe and self._est > max(self._min, self._qfloor):
                    # Still completing at full rate: the service was never idle, so this limit
                    # still queues there; halve again (the path may have become much faster).
                    self._est = max(self._est * _PROBE_FACTOR, float(self._min), self._qfloor)
                    self._set_limit()
                else:
                    self._end_probe(now)
            return
        if length > 2.0 * planned:
            return  # the window spans idle time: its rate says nothing, and nothing queued
        rate = n / length
        rates = self._rates
        rates.append(rate)

        est = old = self._est
        log = math.log10(est)
        alpha = max(1.0, 3.0 * log)
        beta = max(2.0, 6.0 * log)
        standing = rate * (low - rtt_min)  # requests queued at the service all window long
        cap = max(rates) * rtt_min * self._headroom  # more than this buys no throughput
        if self._slow_start:
            if standing > alpha or rate * (mean - rtt_min) > beta:
                # Vegas' reading of the pipe (the limit less what queued) or the rate-based BDP,
                # whichever is higher: completions lag a doubling limit by a round trip, so the
                # rate alone reads low; and never above where slow start got.
                self._slow_start = False
                est = min(est, max(cap, est * rtt_min / mean))
            elif saturated:
                est *= 2.0
        elif standing > beta:
            est -= max(log, (standing - beta) / 2.0)
            self._decreases += 1
        else:
            self._decreases = 0
            if standing < alpha and saturated and est < cap:
                est += max(1.0, log)

        qfloor = self._qfloor
        if est < qfloor:
            if self._dropped:
                # Drops put the limit below the floor: RTTs never cut it further there, and it
                # grows back additively while demand exceeds it.
                est = max(est, old)
                if saturated:
                    est = max(est, min(qfloor, old + max(1.0, log)))
            elif old >= qfloor or not self._slow_start:
                est = qfloor  # round-trip times alone never cut below the floor
            # else: slow start from an initial limit below the floor doubles up to it
        if est >= qfloor:
            self._dropped = False
        if est > old and self._ceiling is not None and est > self._ceiling:
            est = max(old, float(self._ceiling))  # no growth past what the server allows
        self._est = min(max(est, float(self._min)), float(self._max))
        if (
            self._decreases >= _PROBE_AFTER_CUTS
            or now - self._rtt_min_stamp > self._rtt_min_window
            or (faster and not self._slow_start)
        ):
            self._start_probe()
        self._set_limit()

    def _start_probe(self) -> None:
        """Halve the limit to drain our own queue, and measure rtt_min afresh (see _end_window)."""
        self._probe = _PROBE_WINDOWS * _PROBE_STEPS
        self._probe_min = _INF
        self._probe_saved = self._est
        self._decreases = 0
        self._est = max(self._est * _PROBE_FACTOR, float(self._min), min(self._est, self._qfloor))

    def _end_probe(self, now: float) -> None:
        old, new = self._rtt_min, self._probe_min
        self._rtt_min = new
        self._rtt_min_stamp = now
        self._probe = 0
        est = self._probe_saved
        if new > old * _REFRESH:
            self._slow_start = True  # the path got slower: the limit learned on it is stale
        elif new * _REFRESH < old and self._rates:
            # A much faster path needs much less in flight: headroom x BDP at the new RTT, or
            # the old limit scaled to it (if the rates were held down by demand, not the pipe).
            est = min(est, max(max(self._rates) * new * self._headroom, est * new / old))
        self._est = max(est, float(self._min))
        self._set_limit()


class Slot:
    """One acquired slot, as an async context manager (:meth:`AdaptiveLimit.slot`).

    On a normal exit the time since entry is an RTT sample; on an exception, or after
    :meth:`drop`/:meth:`discard`, the slot is released without one.
    """

    __slots__ = ("_limiter", "_sample", "start")

    def __init__(self, limiter: AdaptiveLimit) -> None:
        self._limiter = limiter
        self._sample = True
        self.start = 0.0

    async def __aenter__(self) -> Slot:
        await self._limiter.acquire()
        self.start = self._limiter._clock()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        limiter = self._limiter
        if exc_type is None and self._sample:
            limiter.release(limiter._clock() - self.start)
        else:
            limiter.release()

    def drop(self, kind: str) -> None:
        """This request failed with a drop signal (see :meth:`AdaptiveLimit.on_drop`); no sample."""
        self._sample = False
        self._limiter.on_drop(kind)

    def discard(self) -> None:
        """Release without an RTT sample (the answer's timing says nothing about the service)."""
        self._sample = False
