"""A lean HTTP/2 transport for httpx, on ``h2`` and asyncio protocols.

Why: ``httpx.AsyncClient(http2=True)`` spends about 2.5 ms of CPU per request in httpcore's HTTP/2
pool on this project's machines, many times what the protocol work costs. Push sending is many
small POSTs to one origin, so this transport keeps a few long-lived connections per origin and
multiplexes streams on them with as little per-request work as possible, while staying an
``httpx.AsyncBaseTransport`` (httpx's Request/Response types; any transport, MockTransport or
respx, can replace it in tests). ``bench/transport_bench.py`` measures it against a bare h2 client.

Protocol duties it honours:

* the server's MAX_CONCURRENT_STREAMS, also when it changes later (APNs raises it after the first
  authenticated request): a new connection opens only when no open one has a free stream, with at
  most one opener per free connection slot (a burst of a thousand requests opens at most
  ``max_connections``, spreading the first burst, and so what a lost connection takes with it);
  when every slot is used, requests wait (FIFO) for a free stream;
* flow control both ways: bodies wait for WINDOW_UPDATE when the peer's window is short, and
  received data is acknowledged so long responses never stall;
* GOAWAY: streams the server accepted (id <= last_stream_id) are answered normally; those above
  it fail with :class:`RequestNotProcessed` (safe to resend), and the connection is retired and
  closed once drained. A REFUSED_STREAM reset is also ``RequestNotProcessed``.

What a caller sees when things go wrong, and why (:mod:`.errors` classifies it):
``httpx.ConnectError``/``ConnectTimeout`` when no connection could be made (nothing was sent);
``httpx.WriteError`` when the connection died before the request body was fully written (the
server never had a whole request); ``httpx.ReadError`` when it died after the request was written:
the server may or may not have processed it. A server that drops the connection "before
accepting" the request looks exactly the same from here as one that crashed after processing it,
so that is reported as ambiguous too, honestly. ``httpx.ReadTimeout`` when no answer came within
``timeout.read``; ``httpx.RemoteProtocolError`` for other resets and protocol violations.

Where it saves CPU compared with a straightforward h2 client: h2 recounts the open streams on
every new stream (a walk over all of them), here the count is kept incrementally; h2's header
validation is off because this module builds the request headers itself (lower-case names, no
connection-specific fields) and reads only ``:status`` from responses; the HPACK encoder memoizes
what cannot change (:func:`_memo_encoder_class`); writes are coalesced into one TLS record per
event-loop iteration; and read timeouts use one timer per connection, not one per request.

Origins that do not negotiate ``h2`` by ALPN (and plain ``http``) go through httpx's own transport.
The ``h2_library`` option chooses ``h2`` or the ``jh2`` fork (its HPACK is in Rust): :mod:`.h2lib`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections import deque

import httpx

from django_push.transport.connection import Connection
from django_push.transport.errors import RequestNotProcessed
from django_push.transport.h2lib import library


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
        self.connections: list[Connection] = []
        self.retiring: list[Connection] = []
        self.opening = 0  # connections being opened (at most one per free slot)
        self.closed = False
        self.waiters: deque[asyncio.Future[None]] = deque()
        self.http11 = False  # the origin did not negotiate h2: use httpx's transport

    def pick(self) -> Connection | None:
        best = None
        best_free = 0
        for conn in self.connections:
            free = conn.limit - len(conn.streams)
            if free > best_free:
                best, best_free = conn, free
        return best

    async def acquire(self) -> Connection | None:
        """A connection with a free stream (waiting for one if need be); None for HTTP/1.1."""
        first = True
        while True:
            if self.http11:
                return None
            conn = self.pick()
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
            raise RequestNotProcessed("the transport was closed")
        if conn is not None and not conn.retired:  # it may have been lost already
            self.connections.append(conn)
        self.wake()

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
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_exception(RequestNotProcessed("the transport was closed"))
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

    def retire(self, conn: Connection) -> None:
        if conn in self.connections:
            self.connections.remove(conn)
            if not conn.closed:
                self.retiring.append(conn)
        self.wake()

    def discard(self, conn: Connection) -> None:
        if conn in self.connections:
            self.connections.remove(conn)
        if conn in self.retiring:
            self.retiring.remove(conn)
        self.wake()


class H2Transport(httpx.AsyncBaseTransport):
    """HTTP/2 transport: pools of multiplexed connections per origin (see the module docstring).

    Use it from one event loop (the process's push loop): a pool belongs to the loop that
    created it, and is replaced if the transport is later used from another loop.
    """

    def __init__(
        self,
        *,
        timeout: httpx.Timeout | None = None,
        max_connections: int = 4,
        ssl_context: ssl.SSLContext | None = None,
        verify: bool | str = True,
        h2_library: str = "h2",
    ) -> None:
        self.timeout = timeout or httpx.Timeout(30.0, connect=10.0)
        self.max_connections = max(1, int(max_connections))
        self.verify = verify
        self._ssl_context = ssl_context  # mTLS (APNs certificates) wins over verify
        self._h2_context: ssl.SSLContext | None = None
        self._fallback: httpx.AsyncBaseTransport | None = None
        self._pools: dict[tuple[str, int | None], Pool] = {}
        self.lib = library(h2_library)
        self.h2_backend = self.lib.name
        self.connections_opened = 0

    # -- TLS ----------------------------------------------------------------------------------------
    def _verify_context(self) -> ssl.SSLContext:
        """A client context for ``verify``: system CAs (plus certifi's, when the system store
        looks empty), no verification, or a CA bundle file (the local fake service's certificate)."""
        if self.verify is False:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        elif isinstance(self.verify, str):
            ctx = ssl.create_default_context(cafile=self.verify)
        else:
            ctx = ssl.create_default_context()
            if not ctx.cert_store_stats().get("x509_ca"):
                try:
                    import certifi
                except ImportError:  # pragma: no cover - certifi comes with httpx
                    pass
                else:
                    ctx.load_verify_locations(certifi.where())
        return ctx

    def h2_context(self) -> ssl.SSLContext:
        if self._h2_context is None:
            self._h2_context = self._ssl_context or self._verify_context()
        # Set each time: httpcore sets ALPN on a context it is given, and a caller's mTLS context
        # is shared with the HTTP/1.1 fallback.
        self._h2_context.set_alpn_protocols(["h2", "http/1.1"])
        return self._h2_context

    def fallback(self) -> httpx.AsyncBaseTransport:
        if self._fallback is None:
            # A context of its own where we can: httpcore rewrites ALPN on the context it is given.
            context = self._ssl_context or self._verify_context()
            self._fallback = httpx.AsyncHTTPTransport(verify=context, http2=False)
        return self._fallback

    # -- connections --------------------------------------------------------------------------------
    async def connect(self, pool: Pool) -> Connection | None:
        """A ready HTTP/2 connection (the server's SETTINGS received), or None if no h2 by ALPN."""
        host, port = pool.host, pool.port
        loop = pool.loop
        deadline = loop.time() + (self.timeout.connect or 3600.0)
        conn = Connection(pool)
        try:
            await asyncio.wait_for(
                loop.create_connection(lambda: conn, host, port, ssl=self.h2_context(), server_hostname=host),
                deadline - loop.time(),
            )
        except asyncio.TimeoutError as exc:
            raise httpx.ConnectTimeout(f"connecting to {host}:{port} timed out") from exc
        except OSError as exc:
            raise httpx.ConnectError(f"cannot connect to {host}:{port}: {exc}") from exc
        assert conn.transport is not None
        ssl_object = conn.transport.get_extra_info("ssl_object")
        if ssl_object is None or ssl_object.selected_alpn_protocol() != "h2":
            conn.ready.cancel()
            conn.closed = conn.retired = True
            conn.transport.close()
            pool.http11 = True
            return None
        try:
            # The server's SETTINGS first, so the first burst honours its MAX_CONCURRENT_STREAMS.
            await asyncio.wait_for(conn.ready, max(0.0, deadline - loop.time()))
        except asyncio.TimeoutError as exc:
            conn.abort()
            raise httpx.ConnectTimeout(f"{host}:{port} sent no HTTP/2 SETTINGS in time") from exc
        self.connections_opened += 1
        return conn

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme != "https":
            return await self.fallback().handle_async_request(request)
        key = (url.host, url.port)
        pool = self._pools.get(key)
        if pool is None or pool.loop is not asyncio.get_running_loop():
            if pool is not None:
                pool.abandon()  # made on a loop that is gone or another one
            pool = self._pools[key] = Pool(self, url.host, url.port or 443, url.netloc)
        if pool.http11:
            return await self.fallback().handle_async_request(request)
        try:
            body = request.content
        except httpx.RequestNotRead:
            body = await request.aread()
        conn = None if pool.waiters else pool.pick()
        if conn is None:
            conn = await pool.acquire()
            if conn is None:
                return await self.fallback().handle_async_request(request)
        return await conn.start(request, body)

    async def aclose(self) -> None:
        """Close every connection. Requests still in flight fail (``ReadError``: they were sent)."""
        pools, self._pools = self._pools, {}
        running = asyncio.get_running_loop()
        for pool in pools.values():
            if pool.loop is running:
                pool.close()
            else:
                pool.abandon()
        if self._fallback is not None:
            fallback, self._fallback = self._fallback, None
            await fallback.aclose()
