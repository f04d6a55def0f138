"""A lean HTTP/2 transport for httpx, on ``h2`` and asyncio protocols.

Why: ``httpx.AsyncClient(http2=True)`` spends about 2.5 ms of CPU per request in httpcore's HTTP/2
pool on this project's machines, several times what the protocol work costs. Push sending is many
small POSTs to one origin, so this transport keeps a few long-lived connections per origin and
multiplexes streams on them with as little per-request work as possible, while staying an
``httpx.AsyncBaseTransport`` (httpx's Request/Response types, and any transport — MockTransport,
respx — can replace it in tests).

Protocol duties it honours: the server's MAX_CONCURRENT_STREAMS (also when it changes later, as
APNs does after the first authenticated request), flow control in both directions, and GOAWAY:
streams the server accepted (id <= last_stream_id) are answered normally; those above it fail with
:class:`RequestNotProcessed` so they can be retried without any risk of a duplicate.
Origins that do not negotiate ``h2`` by ALPN (and plain http) fall back to httpx's own transport.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from typing import Any

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings
import httpx

from .transport_errors import RequestNotProcessed

Origin = tuple[str, str, int]
HOP_BY_HOP = frozenset(
    {b"host", b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade", b"te"}
)
REFUSED_STREAM = 0x7
STREAM_CAP = 1000  # never more streams per connection than this, whatever the server allows


class _GracefulH2Connection(h2.connection.H2Connection):
    """h2's client, except that a received GOAWAY does not close the connection state at once.

    h2 moves to CLOSED on GOAWAY and then refuses every later frame, including the answers to
    streams the server accepted (id <= last_stream_id), which RFC 9113 says it will still send.
    Losing those answers would turn accepted pushes into retries, i.e. duplicates. We stop opening
    streams on GOAWAY ourselves (``_Connection.usable``), so the state machine can stay open.
    """

    def _receive_goaway_frame(self, frame: Any) -> tuple[list[Any], list[Any]]:
        event = h2.events.ConnectionTerminated()
        event.error_code = h2.errors._error_code_from_int(frame.error_code)
        event.last_stream_id = frame.last_stream_id
        event.additional_data = frame.additional_data or None
        return [], [event]


class _Stream:
    __slots__ = ("body", "future", "headers", "request", "status", "timer")

    def __init__(self, future: asyncio.Future[httpx.Response], request: httpx.Request) -> None:
        self.future = future
        self.request = request
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = bytearray()
        self.timer: asyncio.TimerHandle | None = None


class _Connection(asyncio.Protocol):
    """One HTTP/2 connection: the h2 state machine driven by asyncio's protocol callbacks."""

    def __init__(self, pool: _Pool) -> None:
        self.pool = pool
        self.loop = asyncio.get_running_loop()
        config = h2.config.H2Configuration(client_side=True, header_encoding=None)
        self.conn = _GracefulH2Connection(config=config)
        self.transport: asyncio.Transport | None = None
        self.streams: dict[int, _Stream] = {}
        self.settings_received = self.loop.create_future()
        self.usable = True  # false after GOAWAY or loss: no new streams
        self.closed = False
        self.window_waiters: deque[asyncio.Future[None]] = deque()

    # -- asyncio callbacks --------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.conn.initiate_connection()
        # A large receive window: responses must never stall on our acknowledgements.
        self.conn.increment_flow_control_window(2**24)
        transport.write(self.conn.data_to_send())  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        try:
            events: list[Any] = self.conn.receive_data(data)  # dispatched on exact type below
        except h2.exceptions.ProtocolError as exc:
            self._fail_all(httpx.RemoteProtocolError(f"HTTP/2 protocol error: {exc}"))
            self._abort()
            return
        for event in events:
            kind = type(event)
            if kind is h2.events.ResponseReceived:
                stream = self.streams.get(event.stream_id)
                if stream is not None:
                    for name, value in event.headers:
                        if name == b":status":
                            stream.status = int(value)
                        else:
                            stream.headers.append((name, value))
            elif kind is h2.events.DataReceived:
                stream = self.streams.get(event.stream_id)
                if stream is not None:
                    stream.body += event.data
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif kind is h2.events.StreamEnded:
                self._complete(event.stream_id)
            elif kind is h2.events.StreamReset:
                error: Exception
                if event.error_code == REFUSED_STREAM:
                    error = RequestNotProcessed("the server refused the stream (REFUSED_STREAM)")
                else:
                    error = httpx.RemoteProtocolError(
                        f"stream reset by the server (error {event.error_code})"
                    )
                self._fail(event.stream_id, error)
            elif kind is h2.events.ConnectionTerminated:
                self._goaway(event.last_stream_id, event.error_code)
            elif kind is h2.events.RemoteSettingsChanged:
                if not self.settings_received.done():
                    self.settings_received.set_result(None)
                self.pool.capacity_changed()
            elif kind is h2.events.WindowUpdated:
                while self.window_waiters:
                    waiter = self.window_waiters.popleft()
                    if not waiter.done():
                        waiter.set_result(None)
        data = self.conn.data_to_send()
        if data and self.transport is not None and not self.closed:
            self.transport.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.usable = False
        if not self.settings_received.done():
            self.settings_received.set_exception(httpx.ConnectError("connection closed during the handshake"))
        # Every request on it was written: the server may have processed it, so this is ambiguous.
        self._fail_all(httpx.ReadError(f"connection lost: {exc or 'closed by the server'}"))
        for waiter in self.window_waiters:
            if not waiter.done():
                waiter.set_exception(httpx.WriteError("connection lost"))
        self.pool.discard(self)

    # -- streams ------------------------------------------------------------------------------------
    @property
    def capacity(self) -> int:
        if not self.usable or self.transport is None or self.transport.is_closing():
            return 0
        limit = min(self.conn.remote_settings.max_concurrent_streams, STREAM_CAP)
        return limit - len(self.streams)

    def start(self, request: httpx.Request, timeout: float | None) -> asyncio.Future[httpx.Response]:
        """Open a stream and write the request; returns the future of its response."""
        if self.transport is None or self.transport.is_closing():
            # Lost between acquire() and now: nothing was written, so a retry cannot duplicate.
            self.usable = False
            raise RequestNotProcessed("the connection closed before the request was sent")
        url = request.url
        authority = url.netloc
        headers = [
            (b":method", request.method.encode()),
            (b":authority", authority),
            (b":scheme", url.raw_scheme),
            (b":path", url.raw_path),
        ]
        headers += [(k.lower(), v) for k, v in request.headers.raw if k.lower() not in HOP_BY_HOP]
        body = request.content
        stream_id = self.conn.get_next_available_stream_id()
        future: asyncio.Future[httpx.Response] = self.loop.create_future()
        stream = _Stream(future, request)
        self.streams[stream_id] = stream
        self.conn.send_headers(stream_id, headers, end_stream=not body)
        if body and not self._send_body_now(stream_id, body):
            self.loop.create_task(self._send_body_later(stream_id, body))
        assert self.transport is not None
        self.transport.write(self.conn.data_to_send())
        if timeout is not None:
            stream.timer = self.loop.call_later(timeout, self._timed_out, stream_id, timeout)
        return future

    def _send_body_now(self, stream_id: int, body: bytes) -> bool:
        window = self.conn.local_flow_control_window(stream_id)
        if len(body) > window or len(body) > self.conn.max_outbound_frame_size:
            return False
        self.conn.send_data(stream_id, body, end_stream=True)
        return True

    async def _send_body_later(self, stream_id: int, body: bytes) -> None:
        """Send a body larger than the current window or frame size, waiting for WINDOW_UPDATEs."""
        view = memoryview(body)
        try:
            while view:
                if stream_id not in self.streams or self.closed:
                    return
                window = min(
                    self.conn.local_flow_control_window(stream_id), self.conn.max_outbound_frame_size
                )
                if window <= 0:
                    waiter = self.loop.create_future()
                    self.window_waiters.append(waiter)
                    await waiter
                    continue
                chunk, view = view[:window], view[window:]
                self.conn.send_data(stream_id, bytes(chunk), end_stream=not view)
                assert self.transport is not None
                self.transport.write(self.conn.data_to_send())
        except (h2.exceptions.ProtocolError, httpx.TransportError) as exc:
            self._fail(stream_id, httpx.WriteError(f"could not send the request body: {exc}"))

    def _complete(self, stream_id: int) -> None:
        stream = self.streams.pop(stream_id, None)
        if stream is None:
            return
        if stream.timer is not None:
            stream.timer.cancel()
        if not stream.future.done():
            stream.future.set_result(
                httpx.Response(
                    stream.status,
                    headers=stream.headers,
                    content=bytes(stream.body),
                    request=stream.request,
                    extensions={"http_version": b"HTTP/2"},
                )
            )
        self.pool.capacity_changed()

    def _fail(self, stream_id: int, error: Exception) -> None:
        stream = self.streams.pop(stream_id, None)
        if stream is None:
            return
        if stream.timer is not None:
            stream.timer.cancel()
        if not stream.future.done():
            stream.future.set_exception(error)
        self.pool.capacity_changed()

    def _fail_all(self, error: Exception) -> None:
        for stream_id in list(self.streams):
            self._fail(stream_id, error)

    def _timed_out(self, stream_id: int, timeout: float) -> None:
        if stream_id in self.streams:
            try:
                self.conn.reset_stream(stream_id, error_code=0x8)  # CANCEL
                if self.transport is not None:
                    self.transport.write(self.conn.data_to_send())
            except h2.exceptions.ProtocolError:
                pass
            self._fail(stream_id, httpx.ReadTimeout(f"no answer within {timeout:g}s"))

    def _goaway(self, last_stream_id: int | None, error_code: int) -> None:
        self.usable = False
        last = last_stream_id or 0
        for stream_id in [sid for sid in self.streams if sid > last]:
            self._fail(stream_id, RequestNotProcessed(f"GOAWAY (error {error_code}) above stream {last}"))
        self.pool.discard(self, close_when_idle=True)

    def _abort(self) -> None:
        self.usable = False
        if self.transport is not None:
            self.transport.abort()

    def close_if_idle(self) -> None:
        if not self.streams and self.transport is not None and not self.closed:
            try:
                self.conn.close_connection()
                self.transport.write(self.conn.data_to_send())
            except h2.exceptions.ProtocolError:
                pass
            self.transport.close()


class _Pool:
    """The connections to one origin: lazily opened, least-loaded first, waiting when all are full."""

    def __init__(self, transport: H2Transport, origin: Origin) -> None:
        self.transport = transport
        self.origin = origin
        self.connections: list[_Connection] = []
        self.retiring: list[_Connection] = []
        self.opening = 0
        self.waiters: deque[asyncio.Future[None]] = deque()
        self.fallback: httpx.AsyncBaseTransport | None = None

    async def acquire(self) -> _Connection | None:
        """A connection with a free stream, or None when the origin does not speak h2."""
        while True:
            if self.fallback is not None:
                return None
            best = None
            best_capacity = 0
            for conn in self.connections:
                capacity = conn.capacity
                if capacity > best_capacity:
                    best, best_capacity = conn, capacity
            if best is not None:
                return best
            if len(self.connections) + self.opening < self.transport.max_connections:
                await self._open()
                continue
            waiter = asyncio.get_running_loop().create_future()
            self.waiters.append(waiter)
            await waiter

    async def _open(self) -> None:
        self.opening += 1
        try:
            conn = await self.transport.connect(self)
        finally:
            self.opening -= 1
        if conn is not None:
            self.connections.append(conn)
        self.capacity_changed()

    def capacity_changed(self) -> None:
        """Wake as many waiters as there are free streams (they re-check when they run)."""
        if not self.waiters:
            return
        free = sum(conn.capacity for conn in self.connections)
        if len(self.connections) + self.opening < self.transport.max_connections:
            free += 1  # one more may open a connection
        while self.waiters and free > 0:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                free -= 1

    def discard(self, conn: _Connection, close_when_idle: bool = False) -> None:
        if conn in self.connections:
            self.connections.remove(conn)
        if close_when_idle and not conn.closed:
            self.retiring.append(conn)
            conn.close_if_idle()
        # Others waiting for a stream may now open a replacement connection.
        for waiter in list(self.waiters):
            if not waiter.done():
                waiter.set_result(None)
        self.waiters.clear()


class H2Transport(httpx.AsyncBaseTransport):
    """HTTP/2 transport: pools of multiplexed connections per origin (see the module docstring)."""

    def __init__(
        self,
        *,
        timeout: httpx.Timeout | None = None,
        max_connections: int = 4,
        ssl_context: ssl.SSLContext | None = None,
        verify: bool | str = True,
    ) -> None:
        self.timeout = timeout or httpx.Timeout(30.0, connect=10.0)
        self.max_connections = max(1, max_connections)
        self.verify = verify
        self._ssl_context = ssl_context
        self._pools: dict[Origin, _Pool] = {}
        self.connections_opened = 0

    def ssl_context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            if self.verify is False:
                ctx = ssl.create_default_context()
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            elif isinstance(self.verify, str):
                ctx = ssl.create_default_context(cafile=self.verify)
            else:
                ctx = ssl.create_default_context()
            self._ssl_context = ctx
        self._ssl_context.set_alpn_protocols(["h2", "http/1.1"])
        return self._ssl_context

    async def connect(self, pool: _Pool) -> _Connection | None:
        _scheme, host, port = pool.origin
        loop = asyncio.get_running_loop()
        conn = _Connection(pool)
        try:
            await asyncio.wait_for(
                loop.create_connection(
                    lambda: conn, host, port, ssl=self.ssl_context(), server_hostname=host
                ),
                self.timeout.connect,
            )
        except asyncio.TimeoutError as exc:
            raise httpx.ConnectTimeout(f"connecting to {host}:{port} timed out") from exc
        except OSError as exc:
            raise httpx.ConnectError(f"cannot connect to {host}:{port}: {exc}") from exc
        assert conn.transport is not None
        ssl_object = conn.transport.get_extra_info("ssl_object")
        if ssl_object is None or ssl_object.selected_alpn_protocol() != "h2":
            conn.transport.close()
            pool.fallback = self._fallback()
            return None
        self.connections_opened += 1
        try:
            # Wait for the server's SETTINGS so the first burst honours its MAX_CONCURRENT_STREAMS.
            await asyncio.wait_for(asyncio.shield(conn.settings_received), self.timeout.connect)
        except asyncio.TimeoutError as exc:
            conn.transport.abort()
            raise httpx.ConnectTimeout(f"{host}:{port} sent no HTTP/2 SETTINGS") from exc
        return conn

    def _fallback(self) -> httpx.AsyncBaseTransport:
        verify: Any = self._ssl_context if self._ssl_context is not None else self.verify
        return httpx.AsyncHTTPTransport(verify=verify, http2=False)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme != "https":
            return await self._plain(request)
        origin = (url.scheme, url.host, url.port or 443)
        pool = self._pools.get(origin)
        if pool is None:
            pool = self._pools[origin] = _Pool(self, origin)
        conn = await pool.acquire()
        if conn is None:
            assert pool.fallback is not None
            return await pool.fallback.handle_async_request(request)
        return await conn.start(request, self.timeout.read)

    async def _plain(self, request: httpx.Request) -> httpx.Response:
        pool = self._pools.get(("http", "", 0))
        if pool is None:
            pool = self._pools[("http", "", 0)] = _Pool(self, ("http", "", 0))
            pool.fallback = self._fallback()
        assert pool.fallback is not None
        return await pool.fallback.handle_async_request(request)

    async def aclose(self) -> None:
        for pool in self._pools.values():
            for conn in pool.connections + pool.retiring:
                conn._fail_all(httpx.ReadError("transport closed"))
                if conn.transport is not None:
                    conn.transport.close()
            if pool.fallback is not None:
                await pool.fallback.aclose()
        self._pools.clear()
