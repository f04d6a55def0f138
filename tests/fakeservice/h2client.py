"""A small raw HTTP/2 client for the fake service's tests: every frame and stream under control.

h2 does the client's encoding; GOAWAY frames are intercepted before h2 sees them (h2 rejects any
frame after a GOAWAY, but a graceful GOAWAY is followed by the answers of the streams it keeps).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import time
from typing import Any

import h2.config
import h2.connection
import h2.errors
import h2.events

from bench.fakepush import FakePushService

GOAWAY = 0x7
TIMEOUT = 5.0

Request = tuple[str, dict[str, str], bytes]


class RawH2(asyncio.Protocol):
    """One connection; ``send`` writes many requests at once, events are recorded in order."""

    def __init__(self) -> None:
        loop = asyncio.get_running_loop()
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        )
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.ready: asyncio.Future[None] = loop.create_future()
        self.lost: asyncio.Future[None] = loop.create_future()
        self.changed = asyncio.Event()
        self.status: dict[int, int] = {}
        self.bodies: dict[int, bytearray] = {}
        self.ended: set[int] = set()
        self.reset_by_server: set[int] = set()
        self.goaway_last: int | None = None
        self.log: list[tuple[str, int]] = []  # ("answer", stream id) / ("goaway", last stream id)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.conn.initiate_connection()
        self.transport.write(self.conn.data_to_send())

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= 9:
            length = int.from_bytes(self.buffer[:3], "big")
            if len(self.buffer) < 9 + length:
                break
            frame, self.buffer = self.buffer[: 9 + length], self.buffer[9 + length :]
            if frame[3] == GOAWAY:
                self.goaway_last = int.from_bytes(frame[9:13], "big") & 0x7FFFFFFF
                self.log.append(("goaway", self.goaway_last))
                continue
            for event in self.conn.receive_data(frame):
                self.on_event(event)
        out = self.conn.data_to_send()
        if out and self.transport is not None and not self.transport.is_closing():
            self.transport.write(out)
        self.changed.set()

    def on_event(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.RemoteSettingsChanged) and not self.ready.done():
            self.ready.set_result(None)
        elif isinstance(event, h2.events.ResponseReceived):
            self.status[event.stream_id] = int(dict(event.headers)[":status"])
            self.log.append(("answer", event.stream_id))
        elif isinstance(event, h2.events.DataReceived):
            self.bodies.setdefault(event.stream_id, bytearray()).extend(event.data)
            self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.StreamEnded):
            self.ended.add(event.stream_id)
        elif isinstance(event, h2.events.StreamReset):
            self.reset_by_server.add(event.stream_id)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)
        self.changed.set()

    def send(self, requests: list[Request]) -> list[int]:
        """Write every request (HEADERS + DATA with END_STREAM) in one write; their stream ids."""
        ids = []
        for path, headers, body in requests:
            stream_id = self.conn.get_next_available_stream_id()
            self.conn.send_headers(
                stream_id,
                [
                    (":method", "POST"),
                    (":authority", "127.0.0.1"),
                    (":scheme", "https"),
                    (":path", path),
                    *headers.items(),
                ],
            )
            self.conn.send_data(stream_id, body, end_stream=True)
            ids.append(stream_id)
        assert self.transport is not None
        self.transport.write(self.conn.data_to_send())
        return ids

    def cancel(self, stream_ids: list[int]) -> None:
        """RST_STREAM(CANCEL) each stream, as a client giving up on them."""
        for stream_id in stream_ids:
            self.conn.reset_stream(stream_id, error_code=h2.errors.ErrorCodes.CANCEL)
        assert self.transport is not None
        self.transport.write(self.conn.data_to_send())

    def body_json(self, stream_id: int) -> Any:
        return json.loads(bytes(self.bodies.get(stream_id, b"")))

    async def until(self, condition, timeout: float = TIMEOUT) -> None:
        """Wait until ``condition()`` holds (checked whenever something arrives)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not condition():
            remaining = deadline - asyncio.get_running_loop().time()
            assert remaining > 0, "timed out waiting on the fake service"
            self.changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.changed.wait(), remaining)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def connect(service: FakePushService) -> RawH2:
    context = ssl.create_default_context(cafile=service.ca_file)
    context.set_alpn_protocols(["h2"])
    loop = asyncio.get_running_loop()
    _, protocol = await asyncio.wait_for(
        loop.create_connection(RawH2, "127.0.0.1", service.port, ssl=context), TIMEOUT
    )
    await asyncio.wait_for(protocol.ready, TIMEOUT)
    return protocol


def wait_until(condition, timeout: float = TIMEOUT) -> None:
    """Poll a condition on the service's state from the test thread."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting on the fake service"
        time.sleep(0.005)
