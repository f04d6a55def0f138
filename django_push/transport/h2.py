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
  closed once drained (and replaced at once when it was busy). A REFUSED_STREAM reset is also
  ``RequestNotProcessed``. A resend (``request.extensions[RESEND]``, set by ``HTTPBackend``) waits
  at the head of the line and goes on the freshest connection.

How much is in flight: each origin's pool has an :class:`~.limit.AdaptiveLimit` (``adaptive_limit``,
or ``max_in_flight`` for a fixed number) that a request waits for, FIFO, before a stream is opened.
It keeps in flight what fills the wire (throughput x round trip) rather than everything the server
allows, because a lost connection takes what was in flight with it, and those requests are ambiguous.
The transport feeds it: the round trip of every answered stream; ``"reset"`` when a connection is
lost with streams on it; ``"goaway"`` when a GOAWAY refuses streams (or reports an error);
``"overload"`` on a 429 or 503 answer; and the ceiling, the servers' MAX_CONCURRENT_STREAMS over the
open connections plus as much for each one the pool may still open. A request that never got a
stream (no connection, transport closed) gives its slot back and teaches it nothing.

Proxies: an ``http://`` CONNECT proxy from the ``proxy`` option or, with ``trust_env``, from
``HTTPS_PROXY``/``NO_PROXY`` (:mod:`.proxy`); the connection is tunnelled, then TLS with ALPN runs
inside the tunnel.

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
import ssl
from typing import Any

import httpx

from django_push.transport.connection import STREAM_CAP, Connection
from django_push.transport.errors import RESEND
from django_push.transport.h2lib import library
from django_push.transport.limit import AdaptiveLimit
from django_push.transport.pool import MIN_IN_FLIGHT, QUEUE_FLOOR, SPREAD_STREAMS, Pool
from django_push.transport.proxy import Proxy, proxy_for

__all__ = ["MIN_IN_FLIGHT", "QUEUE_FLOOR", "SPREAD_STREAMS", "H2Transport", "Pool"]


class H2Transport(httpx.AsyncBaseTransport):
    """HTTP/2 transport: pools of multiplexed connections per origin (see the module docstring).

    Use it from one event loop (the process's push loop): a pool belongs to the loop that
    created it, and is replaced if the transport is later used from another loop.

    ``adaptive_limit`` (default True) bounds the streams in flight to each origin with an
    :class:`~django_push.transport.limit.AdaptiveLimit`: enough to keep the wire full, so a lost
    connection takes little with it. ``max_in_flight`` pins that bound to a number instead (it wins
    over ``adaptive_limit``). With neither, only the server's MAX_CONCURRENT_STREAMS bounds it.
    ``proxy`` is an ``http://[user:password@]host:port`` CONNECT proxy; when None and ``trust_env``
    is true, ``HTTPS_PROXY``/``NO_PROXY`` decide (see :mod:`.proxy`). ``http2=False`` sends every
    request through httpx's HTTP/1.1 transport (with the same proxy rules).
    """

    def __init__(
        self,
        *,
        timeout: httpx.Timeout | None = None,
        max_connections: int = 4,
        ssl_context: ssl.SSLContext | None = None,
        verify: bool | str = True,
        h2_library: str = "h2",
        adaptive_limit: bool = True,
        max_in_flight: int | None = None,
        proxy: str | None = None,
        trust_env: bool = True,
        http2: bool = True,
    ) -> None:
        self.timeout = timeout or httpx.Timeout(30.0, connect=10.0)
        self.max_connections = max(1, int(max_connections))
        self.verify = verify
        self._ssl_context = ssl_context  # mTLS (APNs certificates) wins over verify
        self._h2_context: ssl.SSLContext | None = None
        self._fallbacks: dict[str | None, httpx.AsyncBaseTransport] = {}  # by proxy URL
        self._pools: dict[tuple[str, int | None], Pool] = {}
        self.lib = library(h2_library)
        self.h2_backend = self.lib.name
        self.connections_opened = 0
        self.adaptive_limit = bool(adaptive_limit)
        if max_in_flight is not None and int(max_in_flight) < 1:
            raise ValueError(f"max_in_flight must be at least 1 (or None), not {max_in_flight!r}")
        self.max_in_flight = None if max_in_flight is None else int(max_in_flight)
        if proxy:
            Proxy(proxy)  # a malformed or unsupported proxy URL fails here, not at the first send
        self.proxy = proxy or None
        self.trust_env = bool(trust_env)
        self.http2 = bool(http2)

    def new_limiter(self) -> AdaptiveLimit | None:
        """The in-flight limiter of a new origin pool (None when there is none)."""
        if self.max_in_flight is not None:
            n = self.max_in_flight
            return AdaptiveLimit(initial=n, min_limit=n, max_limit=n)
        if not self.adaptive_limit:
            return None
        # One connection's floor to start with: a service that turns streams away at once (GOAWAY,
        # REFUSED_STREAM, 503) cuts from there; otherwise it is the whole floor after one window.
        floor = QUEUE_FLOOR * self.max_connections
        return AdaptiveLimit(
            initial=QUEUE_FLOOR,
            min_limit=MIN_IN_FLIGHT,
            max_limit=max(floor, self.max_connections * STREAM_CAP),
            queue_floor=floor,
        )

    def limiters(self) -> dict[str, AdaptiveLimit]:
        """Each origin's limiter (``host:port`` → limiter), for metrics and tests."""
        return {
            f"{host}:{port}": pool.limiter
            for (host, port), pool in self._pools.items()
            if pool.limiter is not None
        }

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

    def fallback(self, proxy: str | None = None) -> httpx.AsyncBaseTransport:
        """httpx's HTTP/1.1 transport (through ``proxy`` when given): one per proxy."""
        transport = self._fallbacks.get(proxy)
        if transport is None:
            # A context of its own where we can: httpcore rewrites ALPN on the context it is given.
            context = self._ssl_context or self._verify_context()
            transport = self._fallbacks[proxy] = httpx.AsyncHTTPTransport(
                verify=context, http2=False, proxy=proxy
            )
        return transport

    def fallback_for(self, url: httpx.URL) -> httpx.AsyncBaseTransport:
        proxy = proxy_for(url.scheme, url.host, url.port, proxy=self.proxy, trust_env=self.trust_env)
        return self.fallback(proxy)

    # -- connections --------------------------------------------------------------------------------
    async def connect(self, pool: Pool) -> Connection | None:
        """A ready HTTP/2 connection (the server's SETTINGS received), or None if no h2 by ALPN."""
        host, port = pool.host, pool.port
        loop = pool.loop
        deadline = loop.time() + (self.timeout.connect or 3600.0)
        conn = Connection(pool)
        proxy = pool.proxy
        via = "" if proxy is None else f" through the proxy {proxy.url}"
        try:
            await asyncio.wait_for(self.open_tls(pool, conn), deadline - loop.time())
        except asyncio.TimeoutError as exc:
            raise httpx.ConnectTimeout(f"connecting to {host}:{port}{via} timed out") from exc
        except OSError as exc:
            raise httpx.ConnectError(f"cannot connect to {host}:{port}{via}: {exc}") from exc
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

    async def open_tls(self, pool: Pool, conn: Connection) -> None:
        """TCP (directly, or through a CONNECT tunnel of the pool's proxy), then TLS with ALPN."""
        host, port, loop = pool.host, pool.port, pool.loop
        if pool.proxy is None:
            await loop.create_connection(
                lambda: conn, host, port, ssl=self.h2_context(), server_hostname=host
            )
            return
        sock = await pool.proxy.tunnel(loop, host, port)
        try:
            await loop.create_connection(lambda: conn, sock=sock, ssl=self.h2_context(), server_hostname=host)
        except BaseException:
            sock.close()
            raise

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme != "https" or not self.http2:
            return await self.fallback_for(url).handle_async_request(request)
        key = (url.host, url.port)
        pool = self._pools.get(key)
        if pool is None or pool.loop is not asyncio.get_running_loop():
            if pool is not None:
                pool.abandon()  # made on a loop that is gone or another one
            pool = self._pools[key] = Pool(self, url.host, url.port or 443, url.netloc)
        if pool.http11:
            return await self.fallback(pool.proxy_url).handle_async_request(request)
        try:
            body = request.content
        except httpx.RequestNotRead:
            body = await request.aread()
        limiter = pool.limiter
        if limiter is None:
            conn = None if pool.waiters else pool.pick()
            if conn is None:
                conn = await pool.acquire()
                if conn is None:
                    return await self.fallback(pool.proxy_url).handle_async_request(request)
            return await conn.start(request, body)
        # A slot first (FIFO), then a stream. Until the stream takes the slot over, it is ours to
        # give back: a request that never got a stream costs nothing (no sample, no drop). A
        # resend of a request turned away unprocessed keeps its place: the head of the line.
        resend = bool(request.extensions.get(RESEND))
        # Waiting for a slot and a stream is bounded (``timeout.pool``): a request never sent is
        # "not processed" (PoolTimeout), so it is retried, never left waiting forever.
        wait = self.timeout.pool if self.timeout.pool is not None else 60.0
        if resend:
            await _bounded(limiter.acquire(first=True), wait, f"no free slot for {url.host}")
        elif not limiter.try_acquire():
            await _bounded(limiter.acquire(), wait, f"no free slot for {url.host}")
        try:
            if resend:  # it already had its turn: the freshest connection, at once
                conn = pool.pick_fresh()
            elif pool.waiters:
                conn = None  # others wait for a stream: queue behind them
            else:
                conn = pool.pick()
            if conn is None:
                conn = await _bounded(pool.acquire(resend), wait, f"no free stream to {url.host}")
            if conn is not None:
                future = conn.start(request, body, True)
        except BaseException:
            limiter.release()
            raise
        if conn is None:  # the origin does not speak h2
            limiter.release()
            return await self.fallback(pool.proxy_url).handle_async_request(request)
        return await future

    async def aclose(self) -> None:
        """Close every connection. Requests still in flight fail (``ReadError``: they were sent)."""
        pools, self._pools = self._pools, {}
        running = asyncio.get_running_loop()
        for pool in pools.values():
            if pool.loop is running:
                pool.close()
            else:
                pool.abandon()
        fallbacks, self._fallbacks = self._fallbacks, {}
        for fallback in fallbacks.values():
            await fallback.aclose()


async def _bounded(awaitable: Any, seconds: float, what: str) -> Any:
    """Await in the current task (so FIFO waits keep their order, unlike ``wait_for``'s new task),
    cancelled after ``seconds``: then ``httpx.PoolTimeout`` (the request was never sent)."""
    task = asyncio.current_task()
    assert task is not None
    expired = False

    def expire() -> None:
        nonlocal expired
        expired = True
        task.cancel()

    handle = asyncio.get_running_loop().call_later(seconds, expire)
    try:
        return await awaitable
    except asyncio.CancelledError:
        if expired:
            raise httpx.PoolTimeout(f"{what} within {seconds:g} s") from None
        raise
    finally:
        handle.cancel()
