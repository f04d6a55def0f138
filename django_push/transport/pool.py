"""The connections to one origin, and what may be in flight on them (:class:`Pool`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import TYPE_CHECKING

import httpx

from django_push.transport.connection import WRITE_BATCH, Connection
from django_push.transport.errors import TransportClosed
from django_push.transport.proxy import Proxy, proxy_for

if TYPE_CHECKING:
    from django_push.transport.h2 import H2Transport

#: Streams on the least-loaded connection above which the pool opens another (up to max_connections).
SPREAD_STREAMS = 16
#: Round-trip times alone never cut the adaptive limit below this many streams in flight per
#: connection the pool may open (``max_connections``; it starts there too). Below it, what a lost
#: connection can take is small anyway, while each request costs more CPU: requests are written
#: WRITE_BATCH to a TLS record, and a server answers in batches too. On the fake service at 0 ms, 8
#: in flight cost 0.49 ms of CPU per request, 20 cost 0.39, 50 and more 0.32. And when the sender's
#: CPU is the bottleneck, its own event-loop lag lengthens every round trip in proportion to what is
#: in flight, which Vegas reads as a queue at the service: at 50 ms on a busy 2-core machine it held
#: 64 streams (1,100/s) where 300 reached the unlimited rate (2,000/s).
QUEUE_FLOOR = 2 * WRITE_BATCH
#: Drops (resets, GOAWAYs refusing streams, 429/503) may cut it further, down to this.
MIN_IN_FLIGHT = 8


class Pool:
    """The connections to one origin: opened lazily (one opener per free slot), least loaded first,
    FIFO waits for a free stream when every slot is used."""

    def __init__(self, transport: H2Transport, host: str, port: int, authority: bytes) -> None:
        self.transport = transport
        self.lib = transport.lib
        self.loop = asyncio.get_running_loop()
        self.host, self.port, self.authority = host, port, authority
        self.read_timeout = transport.timeout.read
        self.max_connections = transport.max_connections
        # The streams in flight to this origin, across its connections (None: unbounded but for
        # the server's MAX_CONCURRENT_STREAMS). Requests wait for it before a stream is opened.
        self.limiter = transport.new_limiter()
        #: Streams a connection carries before the server retires it with a graceful GOAWAY, once
        #: seen (servers cap requests per connection): a connection is not given more than that, so
        #: what it would refuse goes to the next connection at once instead of there and back.
        self.stream_budget: int | None = None
        self.stream_limit = 0  # the last MAX_CONCURRENT_STREAMS (capped) a connection announced
        proxy_url = proxy_for("https", host, port, proxy=transport.proxy, trust_env=transport.trust_env)
        self.proxy_url = proxy_url
        self.proxy = Proxy(proxy_url) if proxy_url else None
        self.connections: list[Connection] = []
        self.retiring: list[Connection] = []
        self.opening = 0  # connections being opened (at most one per free slot)
        self.closed = False
        self.waiters: deque[asyncio.Future[None]] = deque()
        self.replacing: set[asyncio.Task[None]] = set()  # replacements of retired connections
        self.http11 = False  # the origin did not negotiate h2: use httpx's transport

    def pick(self) -> Connection | None:
        """The connection with the most free streams; None (open another) while the pool may still
        open connections and the best one already carries ``SPREAD_STREAMS``: spreading what is in
        flight over ``max_connections`` connections means a lost connection takes a quarter of it
        with it, not all of it (those pushes are ambiguous: resent, maybe delivered twice)."""
        best = None
        best_free = 0
        budget = self.stream_budget
        spent = []
        for conn in self.connections:
            if budget is not None and conn.started >= budget:
                spent.append(conn)  # the server retires connections after this many streams
                continue
            free = conn.limit - len(conn.streams)
            if free > best_free:
                best, best_free = conn, free
        for conn in spent:  # drain and close it ourselves: its slot goes to a fresh connection
            conn.retire()
        if (
            best is not None
            and len(best.streams) >= SPREAD_STREAMS
            and len(self.connections) + self.opening < self.max_connections
        ):
            return None
        return best

    def pick_fresh(self) -> Connection | None:
        """For a resend: the connection with a free stream that has carried the fewest streams
        (the least likely to be the next one retired, and where it goes first)."""
        best = None
        budget = self.stream_budget
        spent = []
        for conn in self.connections:
            if budget is not None and conn.started >= budget:
                spent.append(conn)
                continue
            if conn.limit > len(conn.streams) and (best is None or conn.started < best.started):
                best = conn
        for conn in spent:  # as in pick(): its slot goes to a fresh connection, or nobody could wait for one
            conn.retire()
        return best

    async def acquire(self, resend: bool = False) -> Connection | None:
        """A connection with a free stream (waiting for one if need be); None for HTTP/1.1.

        ``resend``: wait at the head of the line (the request was turned away unprocessed)."""
        first = not resend
        while True:
            if self.http11:
                return None
            conn = self.pick_fresh() if resend else self.pick()
            if conn is not None:
                return conn
            if len(self.connections) + self.opening < self.max_connections:
                await self.open()
                continue
            waiter = self.loop.create_future()
            if first:
                self.waiters.append(waiter)
                first = False
            else:
                self.waiters.appendleft(waiter)  # woken but beaten to it: keep our place
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self.wake()  # pass the wake-up we were given to the next in line
                raise

    async def open(self) -> None:
        self.opening += 1
        try:
            conn = await self.transport.connect(self)
        except BaseException as exc:
            self.opening -= 1
            if not self.connections and not self.opening and isinstance(exc, httpx.TransportError):
                # Those queued behind this attempt would only repeat it, one timeout each.
                while self.waiters:
                    waiter = self.waiters.popleft()
                    if not waiter.done():
                        waiter.set_exception(type(exc)(str(exc)))
            else:
                self.wake()
            raise
        self.opening -= 1
        if conn is not None and self.closed:
            conn.close()
            raise TransportClosed("the transport was closed")
        if conn is not None and not conn.retired:  # it may have been lost already
            self.connections.append(conn)
            self.update_ceiling()
        self.wake()

    def update_ceiling(self) -> None:
        """Tell the limiter how many streams the server allows: what the open connections announced,
        plus as much again for each connection the pool may still open."""
        limiter = self.limiter
        if limiter is None or not self.stream_limit:
            return
        conns = self.connections
        unopened = max(0, self.max_connections - len(conns))
        limiter.set_ceiling(sum(conn.limit for conn in conns) + unopened * self.stream_limit)

    def wake(self) -> None:
        """Wake as many waiters as there are free streams (plus one to open a new connection)."""
        waiters = self.waiters
        if not waiters:
            return
        if self.http11:
            free = len(waiters)
        else:
            free = sum(conn.limit - len(conn.streams) for conn in self.connections)
            free += max(0, self.max_connections - len(self.connections) - self.opening)
        while waiters and free > 0:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                free -= 1

    def close(self) -> None:
        """Close every connection (on the pool's own loop)."""
        self.closed = True
        for task in list(self.replacing):
            task.cancel()
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_exception(TransportClosed("the transport was closed"))
        for conn in self.connections + self.retiring:
            conn.fail_all(httpx.ReadError("the transport was closed"))
            conn.close()
        self.connections.clear()
        self.retiring.clear()

    def abandon(self) -> None:
        """Close the pool from another loop: on its own if that still runs, else just forget it."""
        if not self.loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(self.close)
                return
        self.closed = True
        self.connections.clear()
        self.retiring.clear()

    def retire(self, conn: Connection, replace: bool = False) -> None:
        """``conn`` takes no new streams. ``replace``: it was retired by the server (GOAWAY), so
        open its replacement now if the pool is busy (see below)."""
        if conn in self.connections:
            self.connections.remove(conn)
            if not conn.closed:
                self.retiring.append(conn)
            self.update_ceiling()
            limiter = self.limiter
            busy = conn.streams or self.waiters or (limiter is not None and limiter.waiting)
            room = len(self.connections) + self.opening < self.max_connections
            if replace and busy and room and not self.closed:
                # Retired while in use (GOAWAY): open its replacement now, while the others carry
                # the load, rather than when every connection is gone. An idle one is not replaced.
                task = self.loop.create_task(self.replace())
                self.replacing.add(task)
                task.add_done_callback(self.replacing.discard)
        self.wake()

    async def replace(self) -> None:
        with contextlib.suppress(Exception):  # open() already told the waiters, if it failed
            await self.open()

    def discard(self, conn: Connection) -> None:
        if conn in self.connections:
            self.connections.remove(conn)
            self.update_ceiling()
        if conn in self.retiring:
            self.retiring.remove(conn)
        self.wake()
