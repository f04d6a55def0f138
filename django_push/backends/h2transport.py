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

What a caller sees when things go wrong, and why (:mod:`.transport_errors` maps it):
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
Set ``DJANGO_PUSH_H2=jh2`` to use the ``jh2`` fork of h2 (its HPACK is in Rust) when installed.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import ssl
from collections import deque
from typing import Any

import httpx

from .transport_errors import RequestNotProcessed

logger = logging.getLogger("django_push.backends")

HOP_BY_HOP = frozenset(
    {b"host", b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade", b"te"}
)
NO_ERROR, REFUSED_STREAM, CANCEL = 0x0, 0x7, 0x8
STREAM_CAP = 1000  # never more streams per connection than this, whatever the server allows
RECEIVE_WINDOW = 2**24  # our connection-level receive window: answers never wait for our acks
GC_SLACK = 256  # closed h2 stream objects tolerated before they are swept (amortized O(1))
TIMER_SLACK = 0.001  # the event loop may fire a timer this early
WRITE_BATCH = 64  # requests per write at most (about 8 KB: half a TLS record)
MEMO_LIMIT = 4096  # bound on the encoder's sets of sighted header fields
ENCODER_INTERNALS = (
    "header_table",
    "_encode_indexed",
    "_encode_literal",
    "_encode_indexed_literal",
    "_encode_table_size_change",
)


def _memo_encoder_class(base: type) -> type:
    """hpack's encoder, plus a memo of the header representations that cannot change.

    Most headers of a push are the same on every request (method, authority, topic, the JWT or
    OAuth token); a few are new every time (the device token in ``:path``, an expiry). hpack
    re-searches its tables and Huffman-codes every field on every request, and adds every new
    value to the dynamic table, so unique paths keep evicting the reusable entries. This encoder
    memoizes exact (name, value) -> index representations while the dynamic table is unchanged,
    and admits a value into the table only on its second sighting: one-off values are sent as
    literals without indexing (and without Huffman coding, which costs more CPU than the bytes it
    saves here). Indexing the authorization value is deliberate: HPACK only ever matches whole
    values, so a high-entropy bearer token cannot be guessed through compression (RFC 7541 §7.1).
    """

    class MemoEncoder(base):
        def __init__(self) -> None:
            super().__init__()
            self.memo: dict[tuple[bytes, bytes], bytes] = {}
            self.seen: set[tuple[bytes, bytes]] = set()  # sighted once: a table entry next time
            self.indexed: set[tuple[bytes, bytes]] = set()  # added to the table (maybe evicted since)
            mapping = self.header_table.STATIC_TABLE_MAPPING
            self.static_names = {name: entry[0] for name, entry in mapping.items()}

        def encode(self, headers: Any, huffman: bool = True) -> bytes:
            memo = self.memo
            parts = []
            if self.header_table.resized:  # the peer changed SETTINGS_HEADER_TABLE_SIZE
                parts.append(self._encode_table_size_change())
                self.header_table.resized = False
                memo.clear()
            for header in headers:
                encoded = memo.get(header)
                if encoded is None:
                    encoded = self.encode_field(header)
                parts.append(encoded)
            return b"".join(parts)

        def encode_field(self, header: tuple[bytes, bytes]) -> bytes:
            name, value = header
            seen = self.seen
            if header not in seen and header not in self.indexed:
                # First sighting (a device token in the path, an expiry): a literal, not indexed.
                if len(seen) > MEMO_LIMIT:
                    seen.clear()
                seen.add(header)
                index = self.static_names.get(name)
                if index is None:
                    return self._encode_literal(name, value, b"\x00", False)
                if index < 15 and len(value) < 127:  # RFC 7541 §6.2.2, one-byte prefix and length
                    return bytes((index, len(value))) + value
                return self._encode_indexed_literal(index, value, b"\x00", False)
            match = self.header_table.search(name, value)
            if match is not None and match[2] is not None:
                encoded = self._encode_indexed(match[0])
                self.memo[header] = encoded  # valid until the dynamic table changes
                return encoded
            # Seen before: worth a table entry. Adding it shifts every dynamic index.
            seen.discard(header)
            if len(self.indexed) > MEMO_LIMIT:
                self.indexed.clear()
            self.indexed.add(header)
            self.memo.clear()
            return super().add(header, False, True)

    return MemoEncoder


class _Library:
    """``h2`` or ``jh2`` (the same API): the classes this module uses, bound once per library."""

    def __init__(self, name: str) -> None:
        config = importlib.import_module(f"{name}.config")
        connection = importlib.import_module(f"{name}.connection")
        events = importlib.import_module(f"{name}.events")
        exceptions = importlib.import_module(f"{name}.exceptions")
        errors = importlib.import_module(f"{name}.errors")
        self.name = name
        self.ResponseReceived = events.ResponseReceived
        self.DataReceived = events.DataReceived
        self.StreamEnded = events.StreamEnded
        self.StreamReset = events.StreamReset
        self.WindowUpdated = events.WindowUpdated
        self.RemoteSettingsChanged = events.RemoteSettingsChanged
        self.ConnectionTerminated = events.ConnectionTerminated
        self.PushedStreamReceived = events.PushedStreamReceived
        self.H2Error = exceptions.H2Error
        self.config = config.H2Configuration(
            client_side=True,
            header_encoding=None,
            # We build every header ourselves (lower-case names, pseudo-headers first, no
            # connection-specific fields): re-checking them per request is pure cost.
            validate_outbound_headers=False,
            normalize_outbound_headers=False,
            # Checking every character of every response header name in Python costs more than
            # the rest of the receive path; we read only :status and hand the rest to httpx.
            validate_inbound_headers=False,
        )
        probe = connection.H2Connection(config=self.config).encoder
        memo_encoder = None
        # Only over hpack's pure-Python encoder (jh2 brings its own, in Rust, fast enough as it is).
        if all(hasattr(probe, attr) for attr in ENCODER_INTERNALS):
            memo_encoder = _memo_encoder_class(type(probe))
        goaway_event, error_code_from_int = events.ConnectionTerminated, errors._error_code_from_int

        class Connection(connection.H2Connection):  # type: ignore[name-defined]
            """h2's client, with two changes this transport relies on.

            * A received GOAWAY does not close the state machine: h2 would then refuse every later
              frame, including the answers to streams the server accepted (id <= last_stream_id),
              which RFC 9113 says it still sends. Losing them would turn accepted pushes into
              retries, i.e. duplicates. The transport itself stops opening streams on GOAWAY.
            * ``open_outbound_streams`` is the transport's own count of streams in flight instead
              of a walk over every stream h2 knows (O(n) on each new stream); closed stream objects
              are swept in batches by :meth:`sweep`.
            """

            def __init__(self, config: Any, in_flight: dict[int, Any]) -> None:
                super().__init__(config=config)
                self.in_flight = in_flight
                self.next_sweep = GC_SLACK
                if memo_encoder is not None:
                    self.encoder = memo_encoder()

            @property
            def open_outbound_streams(self) -> int:
                return len(self.in_flight)

            def sweep(self) -> None:
                """Drop h2's closed stream objects every GC_SLACK new streams (amortized O(1))."""
                if len(self.streams) >= self.next_sweep:
                    connection.H2Connection.open_outbound_streams.fget(self)
                    self.next_sweep = len(self.streams) + GC_SLACK

            def _receive_goaway_frame(self, frame: Any) -> tuple[list[Any], list[Any]]:
                event = goaway_event()
                event.error_code = error_code_from_int(frame.error_code)
                event.last_stream_id = frame.last_stream_id
                event.additional_data = frame.additional_data or None
                return [], [event]

        self.Connection = Connection


_libraries: dict[str, _Library] = {}


def _library(name: str) -> _Library:
    lib = _libraries.get(name)
    if lib is None:
        lib = _libraries[name] = _Library(name)
    return lib


def _library_name() -> str:
    """h2 unless ``DJANGO_PUSH_H2=jh2`` asks for jh2 and it is installed."""
    wanted = os.environ.get("DJANGO_PUSH_H2", "h2").strip().lower() or "h2"
    if wanted == "jh2":
        try:
            importlib.import_module("jh2")
        except ImportError:
            logger.warning("DJANGO_PUSH_H2=jh2 but jh2 is not installed; using h2")
            return "h2"
        return "jh2"
    return "h2"


class _Stream:
    __slots__ = ("body_pending", "chunks", "deadline", "future", "headers", "request", "status")

    def __init__(
        self, future: asyncio.Future[httpx.Response], request: httpx.Request, deadline: float
    ) -> None:
        self.future = future
        self.request = request
        self.deadline = deadline
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: list[bytes] = []
        self.body_pending = False


class _Connection(asyncio.Protocol):
    """One HTTP/2 connection: the h2 state machine driven by asyncio's protocol callbacks."""

    def __init__(self, pool: _Pool) -> None:
        self.pool = pool
        self.lib = lib = pool.lib
        self.loop = pool.loop
        # Insertion-ordered, so also ordered by deadline: every stream gets the same read timeout.
        self.streams: dict[int, _Stream] = {}
        self.conn = lib.Connection(lib.config, self.streams)
        self.transport: asyncio.Transport | None = None
        self.ready: asyncio.Future[None] = self.loop.create_future()  # the server's first SETTINGS
        self.limit = 0  # streams the server lets us have in flight (MAX_CONCURRENT_STREAMS, capped)
        self.retired = False  # no new streams (GOAWAY, loss, close): closed once drained
        self.closed = False
        self.flush_scheduled = False
        self.unflushed = 0  # requests queued in h2's buffer since the last write
        self.timeout = pool.read_timeout
        self.timer: asyncio.TimerHandle | None = None
        self.window_waiters: list[asyncio.Future[None]] = []

    # -- asyncio callbacks --------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.conn.initiate_connection()
        self.conn.increment_flow_control_window(RECEIVE_WINDOW)
        transport.write(self.conn.data_to_send())  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        lib = self.lib
        try:
            events = self.conn.receive_data(data)
        except lib.H2Error as exc:
            self.fail_all(httpx.RemoteProtocolError(f"HTTP/2 protocol error: {exc}"))
            self.abort()
            return
        streams = self.streams
        for event in events:
            kind = type(event)
            if kind is lib.ResponseReceived:
                stream = streams.get(event.stream_id)
                if stream is not None:
                    headers = event.headers
                    if headers and headers[0][0] == b":status":  # pseudo-headers come first
                        stream.status = int(headers[0][1])
                        stream.headers = headers[1:]
                    else:
                        for name, value in headers:
                            if name == b":status":
                                stream.status = int(value)
                            else:
                                stream.headers.append((name, value))
            elif kind is lib.StreamEnded:
                self.complete(event.stream_id)
            elif kind is lib.DataReceived:
                stream = streams.get(event.stream_id)
                if stream is not None:
                    stream.chunks.append(event.data)
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif kind is lib.WindowUpdated:
                self.wake_writers()
            elif kind is lib.StreamReset:
                if event.error_code == REFUSED_STREAM:
                    error: Exception = RequestNotProcessed("the server refused the stream (REFUSED_STREAM)")
                else:
                    error = httpx.RemoteProtocolError(
                        f"stream reset by the server (error {event.error_code})"
                    )
                self.fail(event.stream_id, error)
            elif kind is lib.RemoteSettingsChanged:
                self.settings_changed()
            elif kind is lib.ConnectionTerminated:
                self.goaway(event.last_stream_id, event.error_code)
            elif kind is lib.PushedStreamReceived:
                self.reset(event.pushed_stream_id, REFUSED_STREAM)
        self.flush()

    def eof_received(self) -> bool | None:
        self.retire()  # the server is done sending: no new streams here (connection_lost follows)
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = self.retired = True
        self.limit = 0
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if not self.ready.done():
            self.ready.set_exception(httpx.ConnectError(f"connection closed during the handshake: {exc}"))
        reason = f"connection lost: {exc or 'closed by the server'}"
        for stream_id, stream in list(self.streams.items()):
            # A request fully written may have been processed (ambiguous); one whose body had not
            # all gone out cannot have been.
            error = httpx.WriteError(reason) if stream.body_pending else httpx.ReadError(reason)
            self.fail(stream_id, error)
        self.wake_writers()
        self.pool.discard(self)

    # -- sending ------------------------------------------------------------------------------------
    def start(self, request: httpx.Request, body: bytes) -> asyncio.Future[httpx.Response]:
        """Open a stream and queue the request; returns the future of its response."""
        if self.retired or self.closed or self.transport is None or self.transport.is_closing():
            # Retired or closing: what we wrote now would be dropped unsent, so say so (safe to retry).
            self.retire()
            raise RequestNotProcessed("the connection closed before the request was sent")
        url = request.url
        headers = [
            (b":method", request.method.encode()),
            (b":authority", self.pool.authority),
            (b":scheme", b"https"),
            (b":path", url.raw_path),
        ]
        for name, value in request.headers.raw:
            name = name.lower()
            if name not in HOP_BY_HOP:
                headers.append((name, value))
        conn = self.conn
        try:
            stream_id = conn.get_next_available_stream_id()
            conn.send_headers(stream_id, headers, end_stream=not body)
        except self.lib.H2Error as exc:  # stream ids exhausted, connection state: retire it
            self.retire()
            raise RequestNotProcessed(f"cannot open a stream on this connection: {exc}") from exc
        future: asyncio.Future[httpx.Response] = self.loop.create_future()
        timeout = self.timeout
        if timeout is None:
            stream = _Stream(future, request, 0.0)
        else:
            stream = _Stream(future, request, self.loop.time() + timeout)
            if self.timer is None:
                self.timer = self.loop.call_at(stream.deadline, self.check_deadlines)
        self.streams[stream_id] = stream
        if body:
            if (
                len(body) <= conn.local_flow_control_window(stream_id)
                and len(body) <= conn.max_outbound_frame_size
            ):
                conn.send_data(stream_id, body, end_stream=True)
            else:
                stream.body_pending = True
                self.loop.create_task(self.send_body(stream_id, stream, body))
        # One write (one TLS record, one syscall) for the requests started in this loop iteration,
        # but no more than WRITE_BATCH at a time: in a burst the server starts on the first ones
        # while we build the rest (the machine has more than one core).
        self.unflushed += 1
        if self.unflushed >= WRITE_BATCH:
            self.write_pending()
        elif not self.flush_scheduled:
            self.flush_scheduled = True
            self.loop.call_soon(self.flush)
        return future

    async def send_body(self, stream_id: int, stream: _Stream, body: bytes) -> None:
        """Send a body larger than the peer's window or frame size, waiting for WINDOW_UPDATEs."""
        view = memoryview(body)
        conn = self.conn
        try:
            while view:
                if self.streams.get(stream_id) is not stream or self.closed:
                    return
                size = min(conn.local_flow_control_window(stream_id), conn.max_outbound_frame_size)
                if size <= 0:
                    waiter = self.loop.create_future()
                    self.window_waiters.append(waiter)
                    await waiter
                    continue
                chunk, view = view[:size], view[size:]
                conn.send_data(stream_id, bytes(chunk), end_stream=not view)
                self.flush()
            stream.body_pending = False
        except (self.lib.H2Error, httpx.TransportError) as exc:
            self.fail(stream_id, httpx.WriteError(f"could not send the request body: {exc}"))
            self.flush()

    def wake_writers(self) -> None:
        if self.window_waiters:
            waiters, self.window_waiters = self.window_waiters, []
            for waiter in waiters:
                if not waiter.done():
                    if self.closed:
                        waiter.set_exception(httpx.WriteError("connection lost"))
                    else:
                        waiter.set_result(None)

    def flush(self) -> None:
        self.flush_scheduled = False
        self.write_pending()

    def write_pending(self) -> None:
        self.unflushed = 0
        data = self.conn.data_to_send()
        if data and not self.closed and self.transport is not None:
            self.transport.write(data)

    # -- stream outcomes ----------------------------------------------------------------------------
    def complete(self, stream_id: int) -> None:
        stream = self.streams.pop(stream_id, None)
        if stream is None:
            return
        if stream.body_pending:
            # Answered before we finished sending (RFC 9113 §8.1 allows it): stop the upload.
            stream.body_pending = False
            self.reset(stream_id, NO_ERROR)
        future = stream.future
        if future.done():
            pass
        elif stream.status:
            future.set_result(
                httpx.Response(
                    stream.status,
                    headers=stream.headers,
                    content=b"".join(stream.chunks),
                    request=stream.request,
                    extensions={"http_version": b"HTTP/2"},
                )
            )
        else:
            future.set_exception(httpx.RemoteProtocolError("the stream ended without a response"))
        self.stream_done()

    def fail(self, stream_id: int, error: Exception) -> None:
        stream = self.streams.pop(stream_id, None)
        if stream is None:
            return
        if not stream.future.done():
            stream.future.set_exception(error)
        self.stream_done()

    def fail_all(self, error: Exception) -> None:
        for stream_id in list(self.streams):
            self.fail(stream_id, type(error)(str(error)))

    def stream_done(self) -> None:
        self.conn.sweep()
        if self.retired:
            if not self.streams and not self.closed:
                self.close()  # retired (GOAWAY) and now drained
        elif self.pool.waiters:
            self.pool.wake()

    def check_deadlines(self) -> None:
        """The connection's one read-timeout timer: fail what is overdue, re-arm for the rest."""
        self.timer = None
        now = self.loop.time() + TIMER_SLACK
        overdue = []
        for stream_id, stream in self.streams.items():
            if stream.deadline > now:
                self.timer = self.loop.call_at(stream.deadline, self.check_deadlines)
                break
            overdue.append(stream_id)
        for stream_id in overdue:
            self.reset(stream_id, CANCEL)
            self.fail(stream_id, httpx.ReadTimeout(f"no answer within {self.timeout:g}s"))
        if overdue:
            self.flush()

    def reset(self, stream_id: int, error_code: int) -> None:
        with contextlib.suppress(self.lib.H2Error):  # already closed: nothing to reset
            self.conn.reset_stream(stream_id, error_code=error_code)

    # -- connection state ---------------------------------------------------------------------------
    def settings_changed(self) -> None:
        self.limit = min(self.conn.remote_settings.max_concurrent_streams, STREAM_CAP)
        if not self.ready.done():
            self.ready.set_result(None)
        elif self.pool.waiters and not self.retired:
            self.pool.wake()
        self.wake_writers()  # INITIAL_WINDOW_SIZE may have grown

    def goaway(self, last_stream_id: int | None, error_code: int) -> None:
        last = last_stream_id or 0
        for stream_id in [sid for sid in self.streams if sid > last]:
            self.fail(stream_id, RequestNotProcessed(f"GOAWAY (error {error_code}) above stream {last}"))
        self.retire()
        if not self.streams:
            self.close()

    def retire(self) -> None:
        """No new streams here; the pool may open a replacement. Closed once drained."""
        if not self.retired:
            self.retired = True
            self.pool.retire(self)

    def close(self) -> None:
        self.retired = True
        if self.transport is not None and not self.closed:
            with contextlib.suppress(self.lib.H2Error):  # h2 may already consider it closed
                self.conn.close_connection()
            self.flush()
            self.transport.close()

    def abort(self) -> None:
        self.retired = True
        if self.transport is not None:
            self.transport.abort()


class _Pool:
    """The connections to one origin: opened lazily (one opener per free slot), least loaded first,
    FIFO waits for a free stream when every slot is used."""

    def __init__(self, transport: H2Transport, host: str, port: int, authority: bytes) -> None:
        self.transport = transport
        self.lib = transport.lib
        self.loop = asyncio.get_running_loop()
        self.host, self.port, self.authority = host, port, authority
        self.read_timeout = transport.timeout.read
        self.max_connections = transport.max_connections
        self.connections: list[_Connection] = []
        self.retiring: list[_Connection] = []
        self.opening = 0  # connections being opened (at most one per free slot)
        self.closed = False
        self.waiters: deque[asyncio.Future[None]] = deque()
        self.http11 = False  # the origin did not negotiate h2: use httpx's transport

    def pick(self) -> _Connection | None:
        best = None
        best_free = 0
        for conn in self.connections:
            free = conn.limit - len(conn.streams)
            if free > best_free:
                best, best_free = conn, free
        return best

    async def acquire(self) -> _Connection | None:
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

    def retire(self, conn: _Connection) -> None:
        if conn in self.connections:
            self.connections.remove(conn)
            if not conn.closed:
                self.retiring.append(conn)
        self.wake()

    def discard(self, conn: _Connection) -> None:
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
    ) -> None:
        self.timeout = timeout or httpx.Timeout(30.0, connect=10.0)
        self.max_connections = max(1, int(max_connections))
        self.verify = verify
        self._ssl_context = ssl_context  # mTLS (APNs certificates) wins over verify
        self._h2_context: ssl.SSLContext | None = None
        self._fallback: httpx.AsyncBaseTransport | None = None
        self._pools: dict[tuple[str, int | None], _Pool] = {}
        self.lib = _library(_library_name())
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
    async def connect(self, pool: _Pool) -> _Connection | None:
        """A ready HTTP/2 connection (the server's SETTINGS received), or None if no h2 by ALPN."""
        host, port = pool.host, pool.port
        loop = pool.loop
        deadline = loop.time() + (self.timeout.connect or 3600.0)
        conn = _Connection(pool)
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
            pool = self._pools[key] = _Pool(self, url.host, url.port or 443, url.netloc)
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
