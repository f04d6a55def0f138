"""A local fake push service: APNs, FCM HTTP v1, Google OAuth and Web Push over TLS + HTTP/2.

Used by integration tests (thread mode) and benchmarks (process mode)::

    with FakePushService(latency=0.05, fault_rate=0.2) as svc:   # a thread with its own event loop
        svc.url, svc.ca_file, svc.accepted[token]

    python -m bench.fakepush --port 8443 --latency 0.05 --cert-out /tmp/fakepush.pem

Token rules script the answers: an APNs/FCM token or Web Push id starting with ``dead`` is
unregistered (410 / 404 UNREGISTERED / 410), ``bad`` is a bad token (APNs 400 BadDeviceToken).

"Accepted" means the service wrote a 2xx answer for the request: a request that was never
answered (connection reset, refused by GOAWAY) was not accepted, so ``accepted[token] > 1`` is a
duplicate push in the sense a device would see it.

Faults (``fault_rate``, drawn with ``seed``) are injected on a token's first attempt only by
default, so tests can prove that retries converge: 429 with Retry-After, 500, 503, GOAWAY (the
request and any later stream on that connection are not processed; earlier ones are answered) and
a connection reset when the request arrives (nothing on that connection is answered afterwards).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import datetime
import ipaddress
import json
import os
import random
import ssl
import tempfile
import threading
import time
import uuid
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.settings
from hyperframe.frame import GoAwayFrame

ALL_FAULTS = ("429", "500", "503", "goaway", "reset")


def make_certificate() -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1/localhost; returns (cert path, key path)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "django_push fake push service")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory = tempfile.mkdtemp(prefix="fakepush-")
    cert_path, key_path = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    return cert_path, key_path


class Stats:
    """Counters shared by every connection of one service."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.accepted: collections.Counter[str] = collections.Counter()
        self.attempts: collections.Counter[str] = collections.Counter()
        self.status_counts: collections.Counter[int] = collections.Counter()
        self.faults: collections.Counter[str] = collections.Counter()
        self.jwts_seen: set[str] = set()
        self.requests_total = 0
        self.connections_opened = 0
        self.token_requests = 0
        self.in_flight = 0
        self.max_in_flight = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "accepted_total": sum(self.accepted.values()),
            "accepted_tokens": len(self.accepted),
            "duplicates": sum(1 for v in self.accepted.values() if v > 1),
            "status_counts": {str(k): v for k, v in self.status_counts.items()},
            "faults": dict(self.faults),
            "jwts_seen": len(self.jwts_seen),
            "requests_total": self.requests_total,
            "connections_opened": self.connections_opened,
            "token_requests": self.token_requests,
            "max_in_flight": self.max_in_flight,
        }


class Behaviour:
    def __init__(
        self,
        latency: float = 0.0,
        fault_rate: float = 0.0,
        seed: int = 0,
        faults: tuple[str, ...] = ALL_FAULTS,
        fault_only_first_attempt: bool = True,
        max_concurrent_streams: int = 1000,
    ) -> None:
        unknown = set(faults) - set(ALL_FAULTS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {ALL_FAULTS}")
        self.latency = latency
        self.fault_rate = fault_rate
        self.random = random.Random(seed)
        self.faults = tuple(faults)
        self.fault_only_first_attempt = fault_only_first_attempt
        self.max_concurrent_streams = max_concurrent_streams

    def draw_fault(self, attempt: int) -> str | None:
        if not self.faults or self.fault_rate <= 0:
            return None
        if self.fault_only_first_attempt and attempt > 1:
            return None
        if self.random.random() >= self.fault_rate:
            return None
        return self.random.choice(self.faults)


Answer = tuple[int, list[tuple[str, str]], bytes]


def json_answer(status: int, body: Any, headers: list[tuple[str, str]] | None = None) -> Answer:
    return status, [("content-type", "application/json"), *(headers or [])], json.dumps(body).encode()


def route(method: str, path: str, headers: dict[str, str], body: bytes, stats: Stats) -> tuple[str, Answer]:
    """The protocol answer for one request and the token it was for ('' when none)."""
    if path == "/_stats":
        return "", json_answer(200, stats.as_dict())
    if path == "/_reset" and method == "POST":
        stats.reset()
        return "", json_answer(200, {"reset": True})
    if path == "/token" and method == "POST":
        stats.token_requests += 1
        return "", json_answer(
            200, {"access_token": f"fake-{stats.token_requests}", "expires_in": 3600, "token_type": "Bearer"}
        )
    if path.startswith("/3/device/"):
        token = path[len("/3/device/") :]
        auth = headers.get("authorization", "")
        if not auth.startswith("bearer "):
            return token, json_answer(403, {"reason": "MissingProviderToken"})
        stats.jwts_seen.add(auth[7:])
        if token.startswith("dead"):
            return token, json_answer(410, {"reason": "Unregistered", "timestamp": int(time.time() * 1000)})
        if token.startswith("bad"):
            return token, json_answer(400, {"reason": "BadDeviceToken"})
        apns_id = headers.get("apns-id") or str(uuid.uuid4()).upper()
        return token, (200, [("apns-id", apns_id)], b"")
    if path.startswith("/v1/projects/") and path.endswith("/messages:send"):
        project = path[len("/v1/projects/") : -len("/messages:send")]
        try:
            token = json.loads(body)["message"]["token"]
        except (ValueError, KeyError, TypeError):
            return "", json_answer(
                400, {"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": "bad"}}
            )
        if not headers.get("authorization", "").startswith("Bearer "):
            return token, json_answer(401, {"error": {"code": 401, "status": "UNAUTHENTICATED"}})
        if token.startswith("dead"):
            return token, json_answer(
                404,
                {
                    "error": {
                        "code": 404,
                        "status": "NOT_FOUND",
                        "message": "Requested entity was not found.",
                        "details": [
                            {
                                "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                                "errorCode": "UNREGISTERED",
                            }
                        ],
                    }
                },
            )
        return token, json_answer(200, {"name": f"projects/{project}/messages/{uuid.uuid4().hex}"})
    if path.startswith("/wp/"):
        token = path[len("/wp/") :]
        if "ttl" not in headers or headers.get("content-encoding") != "aes128gcm":
            return token, (400, [], b"missing TTL or Content-Encoding: aes128gcm")
        if not headers.get("authorization", "").startswith("vapid t="):
            return token, (401, [], b"missing VAPID authorization")
        if token.startswith("dead"):
            return token, (410, [], b"push subscription has unsubscribed or expired")
        return token, (201, [("location", f"/wp/messages/{uuid.uuid4().hex}")], b"")
    return "", (404, [], b"no such route")


def fault_answer(kind: str, path: str) -> Answer:
    if kind == "429":
        if path.startswith("/v1/"):
            return json_answer(
                429,
                {
                    "error": {
                        "code": 429,
                        "status": "RESOURCE_EXHAUSTED",
                        "details": [
                            {
                                "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                                "errorCode": "QUOTA_EXCEEDED",
                            }
                        ],
                    }
                },
                [("retry-after", "1")],
            )
        return json_answer(429, {"reason": "TooManyRequests"}, [("retry-after", "1")])
    status = int(kind)
    if path.startswith("/v1/"):
        name = "INTERNAL" if status == 500 else "UNAVAILABLE"
        return json_answer(status, {"error": {"code": status, "status": name}})
    return json_answer(status, {"reason": "InternalServerError" if status == 500 else "ServiceUnavailable"})


class H2ServerProtocol(asyncio.Protocol):
    """One client connection speaking HTTP/2 (or HTTP/1.1 when ALPN chose it)."""

    def __init__(self, service: FakePushService) -> None:
        self.service = service
        self.stats = service.stats
        self.behaviour = service.behaviour
        self.transport: asyncio.Transport | None = None
        self.conn: h2.connection.H2Connection | None = None
        self.h1_buffer = b""
        self.streams: dict[int, tuple[dict[str, str], bytearray]] = {}
        self.highest_received = 0
        self.goaway_sent = False
        self.goaway_last = 0
        self.pending_answers = 0
        self.closed = False
        self.reset_requested = False

    # -- connection ---------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.stats.connections_opened += 1
        ssl_object = transport.get_extra_info("ssl_object")
        alpn = ssl_object.selected_alpn_protocol() if ssl_object else None
        if alpn == "h2":
            config = h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
            self.conn = h2.connection.H2Connection(config=config)
            self.conn.initiate_connection()
            self.conn.update_settings(
                {
                    h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: self.behaviour.max_concurrent_streams,
                    h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1 << 20,
                }
            )
            self.conn.increment_flow_control_window(1 << 24)  # like real services: a roomy window
            self.transport.write(self.conn.data_to_send())

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        for _ in self.streams:
            pass
        self.stats.in_flight -= len(self.streams)
        self.streams.clear()

    def data_received(self, data: bytes) -> None:
        if self.conn is None:
            return self.h1_received(data)
        try:
            events = self.conn.receive_data(data)
        except Exception:
            self.abort()
            return
        for event in events:
            if isinstance(event, h2.events.RequestReceived):
                self.streams[event.stream_id] = (dict(event.headers), bytearray())
                self.stats.in_flight += 1
                self.stats.max_in_flight = max(self.stats.max_in_flight, self.stats.in_flight)
            elif isinstance(event, h2.events.DataReceived):
                if event.stream_id in self.streams:
                    self.streams[event.stream_id][1].extend(event.data)
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                self.request_complete(event.stream_id)
                if self.closed:
                    return
            elif isinstance(event, h2.events.StreamReset) and self.streams.pop(event.stream_id, None):
                self.stats.in_flight -= 1
        if self.reset_requested:
            # Stop answering and close a moment later: answers already written reach the client
            # before our socket goes away (closing at once would make the client's kernel discard
            # them on the RST its next write provokes). Unanswered requests die with the connection.
            self.linger_close()
            return
        self.flush()

    def flush(self) -> None:
        if self.conn is not None and self.transport is not None and not self.transport.is_closing():
            data = self.conn.data_to_send()
            if data:
                self.transport.write(data)

    def linger_close(self, delay: float = 0.5) -> None:
        """Stop answering now and close the socket a little later.

        Closing at once while the client is still writing makes our kernel answer its next bytes
        with an RST, and an RST makes the *client's* kernel discard answers it received but had not
        read yet: accepted pushes would look lost and be retried. Real services linger too.
        """
        self.flush()
        if self.transport is not None and not self.closed:
            self.closed = True
            self.reset_requested = True  # parse (and count) what else arrives, answer nothing
            asyncio.get_running_loop().call_later(delay, self.transport.close)

    def abort(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.abort()
        self.closed = True

    # -- requests -----------------------------------------------------------------------------------
    def request_complete(self, stream_id: int) -> None:
        headers, body = self.streams[stream_id]
        path = headers.get(":path", "")
        token = self.token_for(path, bytes(body))
        if token:
            # Every request the service saw counts as an attempt, processed or not, so a token meets
            # at most one fault when fault_only_first_attempt is set.
            self.stats.attempts[token] += 1
        self.stats.requests_total += 1
        if (self.goaway_sent and stream_id > self.goaway_last) or self.reset_requested:
            # Above GOAWAY's last_stream_id, or on a connection being reset: never processed.
            self.streams.pop(stream_id)
            self.stats.in_flight -= 1
            return
        fault = self.behaviour.draw_fault(self.stats.attempts[token]) if token else None
        if fault == "reset":
            # Reset once this read is parsed: every request in it counts as attempted, none answered.
            self.stats.faults["reset"] += 1
            self.reset_requested = True
            self.streams.pop(stream_id)
            self.stats.in_flight -= 1
            return
        if fault == "goaway":
            self.stats.faults["goaway"] += 1
            last = max((sid for sid in self.streams if sid < stream_id), default=0)
            self.streams.pop(stream_id)
            self.stats.in_flight -= 1
            # A raw GOAWAY frame: h2's close_connection() would also stop us answering the streams
            # at or below last_stream_id, which a graceful shutdown must still answer.
            self.flush()
            frame = GoAwayFrame(0)
            frame.last_stream_id, frame.error_code = last, 0
            assert self.transport is not None
            self.transport.write(frame.serialize())
            self.goaway_sent = True
            self.goaway_last = last
            self.maybe_close_after_goaway()
            return
        if fault:
            self.stats.faults[fault] += 1
            answer = fault_answer(fault, path)
            token = ""
        else:
            token, answer = route(headers.get(":method", ""), path, headers, bytes(body), self.stats)
        self.pending_answers += 1
        latency = self.behaviour.latency
        if latency > 0:
            asyncio.get_running_loop().call_later(latency, self.respond, stream_id, token, answer)
        else:
            self.respond(stream_id, token, answer)

    @staticmethod
    def token_for(path: str, body: bytes) -> str:
        if path.startswith("/3/device/"):
            return path[len("/3/device/") :]
        if path.startswith("/wp/"):
            return path[len("/wp/") :]
        if path.startswith("/v1/projects/"):
            try:
                return str(json.loads(body)["message"]["token"])
            except (ValueError, KeyError, TypeError):
                return ""
        return ""

    def respond(self, stream_id: int, token: str, answer: Answer) -> None:
        self.pending_answers -= 1
        if self.closed or self.reset_requested or self.conn is None or stream_id not in self.streams:
            self.maybe_close_after_goaway()
            return
        status, headers, body = answer
        self.streams.pop(stream_id)
        self.stats.in_flight -= 1
        try:
            self.conn.send_headers(
                stream_id,
                [(":status", str(status)), *headers, ("content-length", str(len(body)))],
                end_stream=not body,
            )
            if body:
                self.conn.send_data(stream_id, body, end_stream=True)
        except Exception:
            return
        self.flush()
        self.stats.status_counts[status] += 1
        if token and 200 <= status < 300:
            self.stats.accepted[token] += 1
        self.maybe_close_after_goaway()

    def maybe_close_after_goaway(self) -> None:
        if not self.goaway_sent or self.pending_answers > 0 or self.closed or self.transport is None:
            return
        if not any(sid <= self.goaway_last for sid in self.streams):
            self.linger_close()

    # -- HTTP/1.1 (OAuth token fetches, clients without h2) -----------------------------------------
    def h1_received(self, data: bytes) -> None:
        self.h1_buffer += data
        while b"\r\n\r\n" in self.h1_buffer:
            head, rest = self.h1_buffer.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            if len(rest) < length:
                return
            body, self.h1_buffer = rest[:length], rest[length:]
            self.stats.requests_total += 1
            answer = route(method, target, headers, body, self.stats)
            # The same latency as HTTP/2; a constant delay keeps HTTP/1.1 answers in order.
            if self.behaviour.latency > 0:
                asyncio.get_running_loop().call_later(self.behaviour.latency, self.h1_respond, *answer)
            else:
                self.h1_respond(*answer)

    def h1_respond(self, token: str, answer: Answer) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        status, out_headers, out_body = answer
        self.stats.status_counts[status] += 1
        if token and 200 <= status < 300:
            self.stats.accepted[token] += 1
        head_lines = [f"HTTP/1.1 {status} X", f"content-length: {len(out_body)}"]
        head_lines += [f"{k}: {v}" for k, v in out_headers]
        self.transport.write(("\r\n".join(head_lines) + "\r\n\r\n").encode("latin-1") + out_body)


class FakePushService:
    """The service; ``start()`` runs it on a background thread (or ``serve()`` in this loop)."""

    def __init__(
        self,
        latency: float = 0.0,
        fault_rate: float = 0.0,
        seed: int = 0,
        faults: tuple[str, ...] = ALL_FAULTS,
        fault_only_first_attempt: bool = True,
        max_concurrent_streams: int = 1000,
        port: int = 0,
        host: str = "127.0.0.1",
        alpn: tuple[str, ...] = ("h2", "http/1.1"),
    ) -> None:
        self.behaviour = Behaviour(
            latency, fault_rate, seed, faults, fault_only_first_attempt, max_concurrent_streams
        )
        self.stats = Stats()
        self.host, self.port, self.alpn = host, port, alpn
        self.cert_file, self.key_file = make_certificate()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def ca_file(self) -> str:
        return self.cert_file

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    @property
    def accepted(self) -> collections.Counter[str]:
        return self.stats.accepted

    def reset_counts(self) -> None:
        self.stats.reset()

    def ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert_file, self.key_file)
        ctx.set_alpn_protocols(list(self.alpn))
        return ctx

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        self.loop = loop
        self.server = await loop.create_server(
            lambda: H2ServerProtocol(self), self.host, self.port, ssl=self.ssl_context(), backlog=1024
        )
        self.port = self.server.sockets[0].getsockname()[1]

    def start(self) -> FakePushService:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.serve())
            except BaseException as exc:  # reported to the starting thread
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name="fakepush", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        if self.loop is None:
            return
        loop = self.loop

        def shutdown() -> None:
            if self.server is not None:
                self.server.close()
            loop.stop()

        loop.call_soon_threadsafe(shutdown)
        if self._thread is not None:
            self._thread.join(5)
        self.loop = None

    def __enter__(self) -> FakePushService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8443)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-concurrent-streams", type=int, default=1000)
    parser.add_argument("--cert-out", help="copy the CA certificate (PEM) here for clients")
    args = parser.parse_args()
    service = FakePushService(
        latency=args.latency,
        fault_rate=args.fault_rate,
        seed=args.seed,
        max_concurrent_streams=args.max_concurrent_streams,
        port=args.port,
        host=args.host,
    )
    if args.cert_out:
        with open(service.cert_file, "rb") as src, open(args.cert_out, "wb") as dst:
            dst.write(src.read())

    async def run() -> None:
        await service.serve()
        print(f"fakepush listening on {service.url} (CA: {args.cert_out or service.ca_file})", flush=True)
        await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


if __name__ == "__main__":
    main()
