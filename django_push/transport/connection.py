"""One HTTP/2 connection: the h2 state machine driven by asyncio's protocol callbacks."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

import httpx

from django_push.transport.errors import RequestNotProcessed

if TYPE_CHECKING:
    from django_push.transport.pool import Pool

HOP_BY_HOP = frozenset(
    {b"host", b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade", b"te"}
)
NO_ERROR, REFUSED_STREAM, CANCEL = 0x0, 0x7, 0x8
STREAM_CAP = 1000  # never more streams per connection than this, whatever the server allows
RECEIVE_WINDOW = 2**24  # our connection-level receive window: answers never wait for our acks
TIMER_SLACK = 0.001  # the event loop may fire a timer this early
WRITE_BATCH = 64  # requests per write at most (about 8 KB: half a TLS record)


class Stream:
    __slots__ = (
        "body_pending",
        "chunks",
        "deadline",
        "future",
        "headers",
        "limited",
        "request",
        "start",
        "status",
    )

    def __init__(
        self, future: asyncio.Future[httpx.Response], request: httpx.Request, start: float, deadline: float
    ) -> None:
        self.future = future
        self.request = request
        self.start = start
        self.deadline = deadline
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: list[bytes] = []
        self.body_pending = False
        self.limited = False  # holds a slot of the pool's in-flight limiter (released when it ends)


class Connection(asyncio.Protocol):
    """One HTTP/2 connection: the h2 state machine driven by asyncio's protocol callbacks."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.lib = lib = pool.lib
        self.loop = pool.loop
        self.limiter = pool.limiter  # the origin's in-flight limit (None: only the server's)
        # Insertion-ordered, so also ordered by deadline: every stream gets the same read timeout.
        self.streams: dict[int, Stream] = {}
        self.conn = lib.Connection(lib.config, self.streams)
        self.transport: asyncio.Transport | None = None
        self.ready: asyncio.Future[None] = self.loop.create_future()  # the server's first SETTINGS
        # Lost during the handshake after connect() stopped waiting: nobody will read the error.
        self.ready.add_done_callback(lambda f: f.cancelled() or f.exception())
        self.limit = 0  # streams the server lets us have in flight (MAX_CONCURRENT_STREAMS, capped)
        self.started = 0  # streams opened on this connection so far
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
        if self.streams and self.limiter is not None:
            self.limiter.on_drop("reset")  # what was in flight is lost: let less be next time
        for stream_id, stream in list(self.streams.items()):
            # A request fully written may have been processed (ambiguous); one whose body had not
            # all gone out cannot have been.
            error = httpx.WriteError(reason) if stream.body_pending else httpx.ReadError(reason)
            self.fail(stream_id, error)
        self.wake_writers()
        self.pool.discard(self)

    # -- sending ------------------------------------------------------------------------------------
    def start(
        self, request: httpx.Request, body: bytes, limited: bool = False
    ) -> asyncio.Future[httpx.Response]:
        """Open a stream and queue the request; returns the future of its response.

        ``limited``: the caller holds a slot of the pool's limiter, which the stream now owns (it is
        released when the stream ends, with an RTT sample if it was answered). If this raises, the
        slot is still the caller's.
        """
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
        now = self.loop.time()
        if timeout is None:
            stream = Stream(future, request, now, 0.0)
        else:
            stream = Stream(future, request, now, now + timeout)
            if self.timer is None:
                self.timer = self.loop.call_at(stream.deadline, self.check_deadlines)
        self.streams[stream_id] = stream
        self.started += 1
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
        stream.limited = limited  # last: nothing above may raise once the stream owns the slot
        return future

    async def send_body(self, stream_id: int, stream: Stream, body: bytes) -> None:
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
        # is_closing(): the transport may be closed (a GOAWAY drained, the peer gone) before
        # connection_lost() sets ``closed``; asyncio's SSL transport then has no protocol to write to.
        if data and not self.closed and self.transport is not None and not self.transport.is_closing():
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
        if stream.limited:
            limiter = self.limiter
            assert limiter is not None
            status = stream.status
            if status == 503 or status == 429:
                # The service says it is overloaded: a drop signal, and its quick answer is no
                # sample of the round trip.
                limiter.on_drop("overload")
                limiter.release()
            elif status:
                limiter.release(self.loop.time() - stream.start)  # answered: an RTT sample
            else:
                limiter.release()
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
        if stream.limited:
            self.limiter.release()  # type: ignore[union-attr]  # it failed: no RTT sample
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
        self.pool.stream_limit = self.limit
        self.pool.update_ceiling()
        if not self.ready.done():
            self.ready.set_result(None)
        elif self.pool.waiters and not self.retired:
            self.pool.wake()
        self.wake_writers()  # INITIAL_WINDOW_SIZE may have grown

    def goaway(self, last_stream_id: int | None, error_code: int) -> None:
        last = last_stream_id or 0
        refused = [sid for sid in self.streams if sid > last]
        if not error_code and refused and last:
            carried = (last + 1) // 2  # client stream ids are odd: 1, 3, 5 …
            budget = self.pool.stream_budget
            self.pool.stream_budget = carried if budget is None else min(budget, carried)
        if self.limiter is not None and error_code:
            # A graceful GOAWAY (NO_ERROR: a server retiring a connection after so many streams, or
            # for a deploy) says nothing about load: the streams it refuses were never processed and
            # are resent at once on another connection, so it cuts nothing. One that reports an error
            # (ENHANCE_YOUR_CALM, INTERNAL_ERROR…) is a drop, and an overload when it sheds most of
            # what was in flight.
            shed = 2 * len(refused) > len(self.streams)
            self.limiter.on_drop("overload" if shed else "goaway")
        if not self.retired:
            self.retired = True
            self.pool.retire(self, replace=True)
        for stream_id in refused:
            self.fail(stream_id, RequestNotProcessed(f"GOAWAY (error {error_code}) above stream {last}"))
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
