"""The "speed of light" client: plain asyncio + ``h2``; no httpx, no database, no retries.

    python -m bench.reference_client --url https://127.0.0.1:8443 --ca-file /tmp/fakepush.pem -n 10000

Why it exists: the CPU a push costs in django_push only means something next to what the HTTP/2
protocol work alone costs on the same machine against the same server. This client does that work
and nothing else: it sends ``n`` APNs-shaped POSTs over ``connections`` TLS connections with up to
``streams`` concurrent streams each (capped by the server's MAX_CONCURRENT_STREAMS), honours the
peer's flow-control window, and reports requests/s and CPU milliseconds per request
(``time.process_time``, so the server's process is not counted). h2 runs with its defaults, as a
straightforward client would.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import time
from typing import Any
from urllib.parse import urlsplit

import h2.config
import h2.connection
import h2.events

BODY = b'{"aps":{"alert":{"title":"Hello","body":"reference"}}}'


class _Conn(asyncio.Protocol):
    """One connection: h2's state machine fed by asyncio's protocol callbacks."""

    def __init__(self) -> None:
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding=None)
        )
        self.waiters: dict[int, asyncio.Future[int]] = {}
        self.status: dict[int, int] = {}
        self.ready = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.window_open = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.conn.initiate_connection()
        self.conn.increment_flow_control_window(2**24)
        self.transport.write(self.conn.data_to_send())

    def data_received(self, data: bytes) -> None:
        for event in self.conn.receive_data(data):
            if isinstance(event, h2.events.ResponseReceived):
                self.status[event.stream_id] = int(dict(event.headers)[b":status"])
            elif isinstance(event, h2.events.DataReceived):
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                waiter = self.waiters.pop(event.stream_id, None)
                if waiter is not None:
                    waiter.set_result(self.status.pop(event.stream_id, 0))
            elif isinstance(event, h2.events.RemoteSettingsChanged):
                if not self.ready.done():
                    self.ready.set_result(None)
                self.window_open.set()  # INITIAL_WINDOW_SIZE may have grown
            elif isinstance(event, h2.events.WindowUpdated):
                self.window_open.set()
        data_out = self.conn.data_to_send()
        if data_out and self.transport is not None:
            self.transport.write(data_out)

    def connection_lost(self, exc: Exception | None) -> None:
        for waiter in self.waiters.values():
            if not waiter.done():
                waiter.set_exception(ConnectionError(f"connection lost: {exc}"))
        self.waiters.clear()

    async def post(self, authority: bytes, path: bytes, body: bytes) -> int:
        stream_id = self.conn.get_next_available_stream_id()
        self.conn.send_headers(
            stream_id,
            [
                (b":method", b"POST"),
                (b":authority", authority),
                (b":scheme", b"https"),
                (b":path", path),
                (b"authorization", b"bearer reference"),
                (b"apns-topic", b"com.example.app"),
                (b"apns-push-type", b"alert"),
            ],
        )
        # Flow control, as any client must (the body is tiny, so this almost never waits).
        while self.conn.local_flow_control_window(stream_id) < len(body):
            self.window_open.clear()
            await self.window_open.wait()
        self.conn.send_data(stream_id, body, end_stream=True)
        assert self.transport is not None
        self.transport.write(self.conn.data_to_send())
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.waiters[stream_id] = future
        return await future


async def _run(url: str, ca_file: str, n: int, connections: int, streams: int) -> dict[str, Any]:
    parts = urlsplit(url)
    ctx = ssl.create_default_context(cafile=ca_file)
    ctx.set_alpn_protocols(["h2"])
    loop = asyncio.get_running_loop()
    conns: list[_Conn] = []
    for _ in range(connections):
        _, proto = await loop.create_connection(_Conn, parts.hostname, parts.port, ssl=ctx)
        await proto.ready
        conns.append(proto)
    authority = parts.netloc.encode()
    limit = min(streams, min(c.conn.remote_settings.max_concurrent_streams for c in conns))
    semaphores = [asyncio.Semaphore(limit) for _ in conns]
    ok = 0

    async def one(i: int) -> None:
        nonlocal ok
        k = i % connections
        async with semaphores[k]:
            status = await conns[k].post(authority, f"/3/device/ref{i:061x}".encode(), BODY)
            ok += status == 200

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    for c in conns:
        if c.transport is not None:
            c.transport.close()
    return {
        "client": "reference",
        "requests": n,
        "ok": ok,
        "per_second": round(n / wall, 1),
        # CPU milliseconds per request, which is also CPU seconds per 1000 requests.
        "cpu_ms_per_request": round(1000 * cpu / n, 4),
        "wall_s": round(wall, 3),
    }


def run(url: str, ca_file: str, n: int, connections: int = 4, streams: int = 1000) -> dict[str, Any]:
    """Send ``n`` requests and return the rate and CPU figures (see the module docstring)."""
    return asyncio.run(_run(url, ca_file, n, connections, streams))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--ca-file", required=True)
    parser.add_argument("-n", type=int, default=10000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--streams", type=int, default=1000)
    args = parser.parse_args()
    print(json.dumps(run(args.url, args.ca_file, args.n, args.connections, args.streams)))


if __name__ == "__main__":
    main()
