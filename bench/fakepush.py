"""A local fake push service: APNs, FCM HTTP v1, Google OAuth and Web Push over TLS + HTTP/2.

Why: tests and benchmarks need the real wire (TLS, ALPN, HTTP/2 streams, SETTINGS, GOAWAY, resets)
and scripted answers, without Apple's or Google's servers, and they need it as hard as the real
services: a client is only proven correct against the failures operators actually see. Two ways::

    with FakePushService(latency=0.05, fault_rate=0.2) as svc:   # a thread with its own event loop
        svc.url, svc.ca_file, svc.accepted[token], svc.answered[token], svc.shown[token]

    python -m bench.fakepush --port 8443 --latency 0.05 --cert-out /tmp/fakepush.pem
    # process mode, for benchmarks: GET /_stats (JSON counters; ?detail=1 adds per-token maps),
    # POST /_reset (zeroes every counter and forgets the provider-token history)

Token rules script the answers: an APNs/FCM token or Web Push id starting with ``dead`` is
unregistered (APNs 410 with a timestamp, FCM 404 UNREGISTERED, Web Push 410); ``bad`` is a bad
token (APNs 400 BadDeviceToken). APNs requires ``authorization: bearer <jwt>`` (distinct JWTs are
counted in ``jwts_seen``); FCM a ``Bearer`` token; Web Push ``TTL``, ``content-encoding: aes128gcm``
and ``authorization: vapid t=…,k=…``. ``POST /token`` is an OAuth token endpoint (form body).
HTTP/1.1 is offered by ALPN too (google-auth fetches tokens over it), with the same routes.

Delivered, answered, shown
--------------------------
A push request is *validated* when it arrives (its END_STREAM): the route decides its answer then.
One whose answer is 2xx is handed on to the device; the answer itself is written ``latency``
seconds later. So there are two counts per token:

* ``answered[token]``: 2xx answers actually written to the client;
* ``accepted[token]``: times the device received the push (delivered), answered or not.
  ``accepted[token] > 1`` is a duplicate as the device sees it.

A validated stream that dies before its answer is written (its connection reset or lost, or the
client resets the stream) may have been delivered already: a share ``reset_delivered_fraction`` of
such streams counts delivered (``delivered_unacknowledged``), the rest not (``validated_dropped``).
The share is applied deterministically, oldest stream first, with the remainder carried over from
one reset to the next (0.5 of 10 in-flight streams is exactly 5; 0.5 of 1, then of 1, is 1 then 0).
Its default is 0.5 for the ``reset`` fault and other lost connections and 1.0 for
``delivered_reset``; a number given applies to all of them (``0.0`` is the old, kind model in which
nothing unanswered was processed).

Every delivered push records its collapse id (APNs ``apns-collapse-id``; FCM
``message.android.collapse_key``, else ``message.apns.headers["apns-collapse-id"]``, else
``message.webpush.headers["Topic"]``; Web Push ``Topic``). ``shown[token]`` is what the device
displays: distinct collapse ids delivered to it plus deliveries without one;
``collapsed_duplicates`` counts deliveries that replaced one with the same collapse id.

Faults
------
``fault_rate`` draws a fault (with ``seed``) among ``faults`` for a request; by default only on a
token's first ``fault_attempts`` attempts (``fault_only_first_attempt``), so tests can prove that
retries converge. ``inject_fault(token, kind)`` scripts one fault for the next request for a token.

* ``429`` (with Retry-After), ``500``, ``503``: answered at once in the route's dialect, not delivered.
* ``goaway``: GOAWAY with last_stream_id = the highest stream already processed on the connection;
  the faulting request and every later stream are not processed (never delivered), earlier ones are
  answered, then the connection closes.
* ``reset``: when the request arrives, the connection stops answering and closes ``reset_linger``
  later. The faulting request (and anything else arriving) is not processed. Every stream in flight
  on the connection dies with it: of those already validated, ``reset_delivered_fraction`` (default
  0.5) count delivered though never answered.
* ``delivered_reset`` (not drawn unless listed): like ``reset``, but the faulting request itself is
  validated and delivered first, then the connection drops; in-flight validated streams count
  delivered with ``reset_delivered_fraction`` (default 1.0).
* ``refuse`` (not drawn unless listed): RST_STREAM(REFUSED_STREAM), not processed.

``goaway_every=N`` (not a fault, never counted in ``faults``; see ``goaways_sent``): after every N
push streams processed on a connection it sends GOAWAY with last_stream_id = the highest processed;
streams above it are not processed (refused, not delivered), exactly as with the ``goaway`` fault,
and the connection closes once the answers of the streams it kept are written: a long-lived
connection retired by the service, which a client must survive without losing or repeating pushes.

``initial_max_concurrent_streams`` makes a connection advertise a different MAX_CONCURRENT_STREAMS
until it has answered its first request, as APNs does.

APNs provider tokens
--------------------
A bearer that is a JWT (header ``kid``, claims ``iss`` and ``iat``; the signature is not checked)
whose ``iat`` is more than ``token_max_age`` (3600 s) old is answered 403 ExpiredProviderToken.
With ``enforce_token_rule=True`` (off by default: several processes minting their own token for one
key at once, as the test workers do, break Apple's rule), tokens are tracked per signing key
(``kid`` + ``iss``): a new token (another JWT string) within ``token_refresh_window`` (1200 s) of the
previous new one is answered 429 TooManyProviderTokenUpdates, a token already accepted for the key
stays fine, and a bearer that is not such a JWT is answered 403 InvalidProviderToken.

Live Activities (the ``liveactivity`` checks), broadcasts and the channel management API (a second
service on its own port): :mod:`bench.fakepush_live`.
Declarative Web Push (``/wp/decl…`` subscriptions) and the Instance ID topic endpoints
(``/iid/v1:batchAdd``, ``/iid/v1:batchRemove``) are described in :mod:`bench.fakepush_dwp`.

Control routes, not counted: ``GET /_stats``, ``POST /_reset``, and ``POST /_echo`` (answers the
request body, to exercise flow control both ways).

The HTTP/2 side checks what clients send (h2's inbound header validation stays on: it is what
catches a client's malformed headers) and is otherwise kept cheap: benchmarks measure the client.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import contextlib
import dataclasses
import datetime
import ipaddress
import json
import os
import random
import shutil
import ssl
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings
from hyperframe.frame import GoAwayFrame

from bench import fakepush_dwp, fakepush_live

ALL_FAULTS = ("429", "500", "503", "goaway", "reset")
# Not drawn unless asked for: RST_STREAM(REFUSED_STREAM), which real services rarely send, and a
# reset right after the faulting push was delivered (every retry of it is a duplicate).
EXTRA_FAULTS = ("refuse", "delivered_reset")
GC_SLACK = 256
# The share of in-flight validated streams counted delivered when their connection dies, by cause.
DEFAULT_DELIVERED_FRACTION = {"reset": 0.5, "lost": 0.5, "delivered_reset": 1.0}

Answer = tuple[int, list[tuple[str, str]], bytes]
Pending = tuple[str, str | None]  # a validated push awaiting its answer: (token, collapse id)


def make_certificate(directory: str | None = None) -> tuple[str, str]:
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
    directory = directory or tempfile.mkdtemp(prefix="fakepush-")
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
        self.awaiting_answer: Callable[[], int] = lambda: 0  # set by the service: live, not reset
        self.reset()

    def reset(self) -> None:
        self.accepted: collections.Counter[str] = collections.Counter()  # delivered, answered or not
        self.answered: collections.Counter[str] = collections.Counter()  # 2xx answers written
        self.shown: collections.Counter[str] = collections.Counter()  # what each device displays
        self.collapse_ids: dict[str, set[str]] = {}
        self.collapsed_duplicates = 0
        self.delivered_unacknowledged = 0
        self.validated_dropped = 0  # validated, died unanswered, counted not delivered
        self.delivery_carry = 0.5  # the remainder of reset_delivered_fraction between resets
        self.attempts: collections.Counter[str] = collections.Counter()
        self.status_counts: collections.Counter[int] = collections.Counter()
        self.faults: collections.Counter[str] = collections.Counter()
        self.goaways_sent = 0  # by the goaway fault and by goaway_every
        self.jwts_seen: set[str] = set()
        self.provider_keys: dict[tuple[str, str], _ProviderKey] = {}
        self.token_refusals: collections.Counter[str] = collections.Counter()
        self.requests_total = 0
        self.connections_opened = 0
        self.token_requests = 0
        self.in_flight = 0  # requests received and not yet answered (or dropped)
        self.max_in_flight = 0

    def deliver(self, token: str, collapse_id: str | None, answered: bool) -> None:
        """The device received a push (``answered``: and the client got the 2xx)."""
        self.accepted[token] += 1
        if answered:
            self.answered[token] += 1
        else:
            self.delivered_unacknowledged += 1
        if collapse_id is None:
            self.shown[token] += 1
            return
        seen = self.collapse_ids.setdefault(token, set())
        if collapse_id in seen:
            self.collapsed_duplicates += 1
        else:
            seen.add(collapse_id)
            self.shown[token] += 1

    def settle(self, pending: list[Pending], fraction: float) -> None:
        """Validated pushes whose answer will never be written: ``fraction`` of them were delivered.

        Deterministic: the oldest first, the fractional remainder carried to the next reset.
        """
        if not pending:
            return
        total = fraction * len(pending) + self.delivery_carry
        delivered = min(len(pending), int(total + 1e-9))  # 0.3 × 10 + 0.5 is 3.5, not 3.4999…
        self.delivery_carry = max(0.0, total - delivered)
        for token, collapse_id in pending[:delivered]:
            self.deliver(token, collapse_id, answered=False)
        self.validated_dropped += len(pending) - delivered

    def as_dict(self, detail: bool = False) -> dict[str, Any]:
        stats = {
            "accepted_total": sum(self.accepted.values()),
            "accepted_tokens": len(self.accepted),
            "duplicates": sum(1 for v in self.accepted.values() if v > 1),
            "answered_total": sum(self.answered.values()),
            "delivered_unacknowledged": self.delivered_unacknowledged,
            "validated_dropped": self.validated_dropped,
            "awaiting_answer": self.awaiting_answer(),
            "shown_total": sum(self.shown.values()),
            "shown_duplicates": sum(1 for v in self.shown.values() if v > 1),
            "collapsed_duplicates": self.collapsed_duplicates,
            "status_counts": {str(k): v for k, v in self.status_counts.items()},
            "faults": dict(self.faults),
            "goaways_sent": self.goaways_sent,
            "jwts_seen": len(self.jwts_seen),
            "token_refusals": dict(self.token_refusals),
            "requests_total": self.requests_total,
            "connections_opened": self.connections_opened,
            "token_requests": self.token_requests,
            "max_in_flight": self.max_in_flight,
            "process_cpu_s": round(time.process_time(), 3),
        }
        if detail:
            stats.update(
                accepted=dict(self.accepted),
                answered=dict(self.answered),
                shown=dict(self.shown),
                attempts=dict(self.attempts),
            )
        return stats


@dataclasses.dataclass
class _ProviderKey:
    """What APNs remembers of one signing key: the tokens it accepted and when the last was new."""

    since: float
    known: set[str]


class Behaviour:
    """How the service answers: latency, stream limits, the fault model and the token rules."""

    def __init__(
        self,
        latency: float = 0.0,
        fault_rate: float = 0.0,
        seed: int = 0,
        faults: tuple[str, ...] = ALL_FAULTS,
        fault_only_first_attempt: bool = True,
        max_concurrent_streams: int = 1000,
        fault_attempts: int = 1,
        initial_max_concurrent_streams: int | None = None,
        reset_delivered_fraction: float | None = None,
        goaway_every: int | None = None,
        enforce_token_rule: bool = False,
        token_refresh_window: float = 1200.0,
        token_max_age: float | None = 3600.0,
    ) -> None:
        check_fault_kinds(faults)
        if not 0.0 <= fault_rate <= 1.0:
            raise ValueError(f"fault_rate must be in [0, 1], not {fault_rate}")
        if reset_delivered_fraction is not None and not 0.0 <= reset_delivered_fraction <= 1.0:
            raise ValueError(f"reset_delivered_fraction must be in [0, 1], not {reset_delivered_fraction}")
        if goaway_every is not None and goaway_every < 1:
            raise ValueError(f"goaway_every must be at least 1, not {goaway_every}")
        self.latency = latency
        self.fault_rate = fault_rate
        self.random = random.Random(seed)
        self.faults = tuple(faults)
        self.fault_only_first_attempt = fault_only_first_attempt
        self.fault_attempts = fault_attempts
        self.max_concurrent_streams = max_concurrent_streams
        self.initial_max_concurrent_streams = initial_max_concurrent_streams
        self.reset_delivered_fraction = reset_delivered_fraction
        self.goaway_every = goaway_every
        self.enforce_token_rule = enforce_token_rule
        self.token_refresh_window = token_refresh_window
        self.token_max_age = token_max_age
        self.scripted: dict[str, collections.deque[str]] = {}  # token -> faults for its next requests

    def delivered_fraction(self, cause: str) -> float:
        """The share of in-flight validated streams delivered when a connection dies of ``cause``."""
        if self.reset_delivered_fraction is not None:
            return self.reset_delivered_fraction
        return DEFAULT_DELIVERED_FRACTION[cause]

    def draw_fault(self, attempt: int, token: str = "") -> str | None:
        scripted = self.scripted.get(token)
        if scripted:
            kind = scripted.popleft()
            if not scripted:
                self.scripted.pop(token, None)
            return kind
        if not self.faults or self.fault_rate <= 0:
            return None
        if self.fault_only_first_attempt and attempt > self.fault_attempts:
            return None
        if self.random.random() >= self.fault_rate:
            return None
        return self.random.choice(self.faults)


def check_fault_kinds(faults: tuple[str, ...] | list[str]) -> None:
    unknown = set(faults) - set(ALL_FAULTS) - set(EXTRA_FAULTS)
    if unknown:
        raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {ALL_FAULTS + EXTRA_FAULTS}")


def json_answer(status: int, body: Any, headers: list[tuple[str, str]] | None = None) -> Answer:
    return status, [("content-type", "application/json"), *(headers or [])], json.dumps(body).encode()


def _fcm_error(status: int, name: str, message: str = "", error_code: str = "") -> dict[str, Any]:
    error: dict[str, Any] = {"code": status, "status": name, "message": message}
    if error_code:
        error["details"] = [
            {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": error_code}
        ]
    return {"error": error}


def token_for(path: str, body: bytes) -> str:
    """The device token a push request is for ('' for other routes)."""
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


def collapse_id_for(path: str, headers: dict[str, str], body: bytes) -> str | None:
    """The collapse id a push carries (None when it has none): what the device would replace."""
    if path.startswith("/3/device/"):
        return headers.get("apns-collapse-id") or None
    if path.startswith("/wp/"):
        return headers.get("topic") or None
    if path.startswith("/v1/projects/"):
        try:
            message = json.loads(body)["message"]
        except (ValueError, KeyError, TypeError):
            return None
        if not isinstance(message, dict):
            return None
        android, apns, webpush = (message.get(k) or {} for k in ("android", "apns", "webpush"))
        candidates = (
            android.get("collapse_key") if isinstance(android, dict) else None,
            _section_header(apns, "apns-collapse-id"),
            _section_header(webpush, "topic"),
        )
        return next((str(c) for c in candidates if c), None)
    return None


def _section_header(section: Any, name: str) -> Any:
    """A header of an FCM platform section (``{"headers": {...}}``), matched case-insensitively."""
    headers = section.get("headers") if isinstance(section, dict) else None
    if not isinstance(headers, dict):
        return None
    return next((v for k, v in headers.items() if str(k).lower() == name), None)


def _jwt_claims(token: str) -> tuple[str, str, float] | None:
    """(kid, iss, iat) of a provider JWT, unverified; None when the bearer is not such a JWT."""
    try:
        header_b64, payload_b64, _signature = token.split(".")
        header, payload = (
            json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
            for part in (header_b64, payload_b64)
        )
        kid, iss, iat = header["kid"], payload["iss"], payload["iat"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(kid, str) or not isinstance(iss, str) or not isinstance(iat, (int, float)):
        return None
    return kid, iss, float(iat)


def provider_token_refusal(jwt: str, stats: Stats, behaviour: Behaviour, now: float) -> Answer | None:
    """APNs's answer to a provider token it will not accept, or None."""
    claims = _jwt_claims(jwt)
    reason = None
    if claims is None:
        if behaviour.enforce_token_rule:
            reason, status = "InvalidProviderToken", 403
    elif behaviour.token_max_age is not None and now - claims[2] > behaviour.token_max_age:
        reason, status = "ExpiredProviderToken", 403
    elif behaviour.enforce_token_rule:
        key = (claims[0], claims[1])
        known = stats.provider_keys.get(key)
        if known is None:
            stats.provider_keys[key] = _ProviderKey(since=now, known={jwt})
        elif jwt not in known.known:
            if now - known.since < behaviour.token_refresh_window:
                reason, status = "TooManyProviderTokenUpdates", 429
            else:
                known.since = now
                known.known.add(jwt)
    if reason is None:
        return None
    stats.token_refusals[reason] += 1
    return json_answer(status, {"reason": reason})


def route(
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes,
    stats: Stats,
    behaviour: Behaviour | None = None,
) -> tuple[str, Answer]:
    """The protocol answer for one request and the token it was for ('' when none)."""
    base, _, query = path.partition("?")
    if base == "/_stats":
        return "", json_answer(200, stats.as_dict(detail="detail=1" in query.split("&")))
    if path == "/_reset" and method == "POST":
        stats.reset()
        return "", json_answer(200, {"reset": True})
    if path == "/_echo" and method == "POST":
        return "", (200, [("content-type", "application/octet-stream")], body)
    if path == "/token" and method == "POST":
        stats.token_requests += 1
        return "", json_answer(
            200, {"access_token": f"fake-{stats.token_requests}", "expires_in": 3600, "token_type": "Bearer"}
        )
    live = fakepush_live.route(method, path, headers, body, stats, behaviour or Behaviour())
    if live is not None:  # Live Activities, broadcasts, channel management: bench/fakepush_live.py
        return live
    if (owned := fakepush_dwp.route(method, path, headers, body, stats)) is not None:
        return owned  # Declarative Web Push check, Instance ID endpoints (bench/fakepush_dwp.py)
    if path.startswith("/3/device/") and method == "POST":
        token = path[len("/3/device/") :]
        auth = headers.get("authorization", "")
        if not auth.startswith("bearer "):
            return token, json_answer(403, {"reason": "MissingProviderToken"})
        jwt = auth[7:]
        stats.jwts_seen.add(jwt)
        refusal = provider_token_refusal(jwt, stats, behaviour or Behaviour(), time.time())
        if refusal is not None:
            return token, refusal
        if token.startswith("dead"):
            return token, json_answer(410, {"reason": "Unregistered", "timestamp": int(time.time() * 1000)})
        if token.startswith("bad"):
            return token, json_answer(400, {"reason": "BadDeviceToken"})
        apns_id = headers.get("apns-id") or str(uuid.uuid4()).upper()
        return token, (200, [("apns-id", apns_id)], b"")
    if path.startswith("/v1/projects/") and path.endswith("/messages:send") and method == "POST":
        project = path[len("/v1/projects/") : -len("/messages:send")]
        token = token_for(path, body)
        if not token:
            return "", json_answer(400, _fcm_error(400, "INVALID_ARGUMENT", "message.token is required"))
        if not headers.get("authorization", "").startswith("Bearer "):
            return token, json_answer(401, _fcm_error(401, "UNAUTHENTICATED", "missing credentials"))
        if token.startswith("dead"):
            return token, json_answer(
                404, _fcm_error(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED")
            )
        return token, json_answer(200, {"name": f"projects/{project}/messages/{uuid.uuid4().hex}"})
    if path.startswith("/wp/") and method == "POST":
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
    """The answer for an HTTP-level fault (429/500/503), in the dialect of the route."""
    fcm = path.startswith("/v1/")
    if kind == "429":
        retry = [("retry-after", "1")]
        if fcm:
            return json_answer(429, _fcm_error(429, "RESOURCE_EXHAUSTED", "quota", "QUOTA_EXCEEDED"), retry)
        if path.startswith("/wp/"):
            return 429, retry, b"too many requests"
        return json_answer(429, {"reason": "TooManyRequests"}, retry)
    status = int(kind)
    if fcm:
        return json_answer(status, _fcm_error(status, "INTERNAL" if status == 500 else "UNAVAILABLE"))
    return json_answer(status, {"reason": "InternalServerError" if status == 500 else "ServiceUnavailable"})


def _is_control(path: str) -> bool:
    return path.startswith("/_")


class _ServerH2Connection(h2.connection.H2Connection):
    """h2's server side with an O(1) count of open inbound streams.

    h2 recounts (walking every stream) on each new stream; with a thousand concurrent streams per
    connection that walk was the server's largest cost, and benchmarks measure the client.
    """

    def __init__(self, config: h2.config.H2Configuration) -> None:
        super().__init__(config=config)
        self.open_ids: set[int] = set()  # opened by the client, not yet ended by us or reset
        self.next_sweep = GC_SLACK

    @property
    def open_inbound_streams(self) -> int:
        return len(self.open_ids)

    def sweep(self) -> None:
        if len(self.streams) >= self.next_sweep:
            h2.connection.H2Connection.open_inbound_streams.fget(self)  # drops closed stream objects
            self.next_sweep = len(self.streams) + GC_SLACK


class H2ServerProtocol(asyncio.Protocol):
    """One client connection speaking HTTP/2 (or HTTP/1.1 when ALPN chose it)."""

    def __init__(self, service: FakePushService) -> None:
        self.service = service
        self.stats = service.stats
        self.behaviour = service.behaviour
        self.transport: asyncio.Transport | None = None
        self.conn: _ServerH2Connection | None = None
        self.h1_buffer = b""
        self.streams: dict[int, tuple[dict[str, str], bytearray]] = {}
        self.highest_processed = 0  # the GOAWAY last_stream_id: streams processed or being answered
        self.goaway_sent = False
        self.goaway_last = 0
        self.pending_answers = 0
        self.processed = 0  # push streams processed on this connection (for goaway_every)
        # Validated pushes whose 2xx is not written yet, by stream id (HTTP/1.1: request number):
        # what a reset of this connection may have delivered without answering.
        self.pending: dict[int, Pending] = {}
        self.h1_requests = 0
        self.closed = False
        self.reset_requested = False
        self.reset_cause = "lost"  # why unanswered streams die: "reset", "delivered_reset", "lost"
        self.flush_scheduled = False
        self.settings_final = service.behaviour.initial_max_concurrent_streams is None
        self.outgoing: dict[int, memoryview] = {}  # answer bodies waiting for flow-control window

    # -- connection ---------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.service.protocols.add(self)
        self.stats.connections_opened += 1
        ssl_object = transport.get_extra_info("ssl_object")
        alpn = ssl_object.selected_alpn_protocol() if ssl_object else None
        if alpn == "h2":
            config = h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
            self.conn = _ServerH2Connection(config)
            self.conn.initiate_connection()
            initial = self.behaviour.initial_max_concurrent_streams
            self.conn.update_settings(
                {
                    h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: (
                        self.behaviour.max_concurrent_streams if initial is None else initial
                    ),
                    h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1 << 20,
                }
            )
            self.conn.increment_flow_control_window(1 << 24)  # like real services: a roomy window
            self.transport.write(self.conn.data_to_send())

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.service.protocols.discard(self)
        self.stats.in_flight -= len(self.streams)
        self.streams.clear()
        self.settle_pending()  # lost without a reset fault: the client left, or the service stopped

    def settle_pending(self, stream_ids: list[int] | None = None) -> None:
        """Validated streams that will never be answered: some were delivered (see the module doc)."""
        ids = sorted(self.pending) if stream_ids is None else [i for i in stream_ids if i in self.pending]
        if ids:
            fraction = self.behaviour.delivered_fraction(self.reset_cause)
            self.stats.settle([self.pending.pop(i) for i in ids], fraction)

    def data_received(self, data: bytes) -> None:
        if self.conn is None:
            self.h1_received(data)
            return
        conn = self.conn
        try:
            events = conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            self.abort()  # a client bug: make it fail loudly on the client's side
            return
        for event in events:
            kind = type(event)
            if kind is h2.events.RequestReceived:
                conn.open_ids.add(event.stream_id)
                self.streams[event.stream_id] = (dict(event.headers), bytearray())
                self.stats.in_flight += 1
                if self.stats.in_flight > self.stats.max_in_flight:
                    self.stats.max_in_flight = self.stats.in_flight
            elif kind is h2.events.DataReceived:
                stream = self.streams.get(event.stream_id)
                if stream is not None:
                    stream[1].extend(event.data)
                conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif kind is h2.events.StreamEnded:
                if event.stream_id in self.streams:
                    self.request_complete(event.stream_id)
            elif kind is h2.events.StreamReset:
                conn.open_ids.discard(event.stream_id)
                self.outgoing.pop(event.stream_id, None)
                if self.streams.pop(event.stream_id, None) is not None:
                    self.stats.in_flight -= 1
                self.settle_pending([event.stream_id])  # the client gave up on a validated push
            elif (
                kind is h2.events.WindowUpdated or kind is h2.events.RemoteSettingsChanged
            ) and self.outgoing:
                self.pump()
        if self.reset_requested:
            self.linger_close()  # stop answering and close a moment later
            return
        self.flush()

    def flush(self) -> None:
        self.flush_scheduled = False
        if self.conn is not None and self.transport is not None and not self.transport.is_closing():
            data = self.conn.data_to_send()
            if data:
                self.transport.write(data)

    def linger_close(self) -> None:
        """Stop answering now and close the socket a little later.

        Closing at once while the client is still writing makes our kernel answer its next bytes
        with an RST, and an RST makes the *client's* kernel discard answers it received but had not
        read yet: accepted pushes would look lost and be retried. Real services linger too.
        """
        self.flush()
        if self.transport is not None and not self.closed:
            self.closed = True
            self.reset_requested = True  # parse (and count) what else arrives, answer nothing
            self.settle_pending()  # every stream in flight dies now (none after a graceful GOAWAY)
            asyncio.get_running_loop().call_later(self.service.reset_linger, self.transport.close)

    def abort(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.abort()
        self.closed = True

    # -- requests -----------------------------------------------------------------------------------
    def drop(self, stream_id: int) -> None:
        """Forget a request without answering it (it was not processed)."""
        self.streams.pop(stream_id)
        self.stats.in_flight -= 1

    def request_complete(self, stream_id: int) -> None:
        headers, body_buffer = self.streams[stream_id]
        body = bytes(body_buffer)
        path = headers.get(":path", "")
        control = _is_control(path)
        token = token_for(path, body)
        if token:
            # Every request the service saw counts as an attempt, processed or not, so a token meets
            # at most `fault_attempts` faults.
            self.stats.attempts[token] += 1
        if not control:
            self.stats.requests_total += 1
        if (self.goaway_sent and stream_id > self.goaway_last) or self.reset_requested:
            self.drop(stream_id)  # above GOAWAY's last_stream_id, or the connection is being reset
            return
        fault = self.behaviour.draw_fault(self.stats.attempts[token], token) if token else None
        if fault == "reset":
            # Reset once this read is parsed: every request in it counts as attempted, none is
            # processed; streams validated earlier die unanswered (some delivered: linger_close).
            self.stats.faults["reset"] += 1
            self.reset_requested = True
            self.reset_cause = "reset"
            self.drop(stream_id)
            return
        if fault == "delivered_reset":
            # Validated and handed on to the device, then the connection drops before the answer.
            self.stats.faults["delivered_reset"] += 1
            token, (status, _, _) = route(
                headers.get(":method", ""), path, headers, body, self.stats, self.behaviour
            )
            if token and 200 <= status < 300:
                self.stats.deliver(token, collapse_id_for(path, headers, body), answered=False)
            self.reset_requested = True
            self.reset_cause = "delivered_reset"
            self.drop(stream_id)
            return
        if fault == "goaway":
            self.stats.faults["goaway"] += 1
            self.drop(stream_id)
            self.send_goaway(self.highest_processed)
            return
        if fault == "refuse":
            self.stats.faults["refuse"] += 1
            self.drop(stream_id)
            assert self.conn is not None
            self.conn.reset_stream(stream_id, error_code=h2.errors.ErrorCodes.REFUSED_STREAM)
            self.conn.open_ids.discard(stream_id)
            return
        self.highest_processed = max(self.highest_processed, stream_id)
        if fault:
            self.stats.faults[fault] += 1
            answer = fault_answer(fault, path)
        else:
            token, answer = route(headers.get(":method", ""), path, headers, body, self.stats, self.behaviour)
            if token and 200 <= answer[0] < 300:
                self.pending[stream_id] = (token, collapse_id_for(path, headers, body))
        self.pending_answers += 1
        latency = self.behaviour.latency
        if latency > 0 and not control:
            asyncio.get_running_loop().call_later(latency, self.respond, stream_id, answer, control)
        else:
            self.respond(stream_id, answer, control)
        if not control:
            self.processed += 1
            every = self.behaviour.goaway_every
            if every and self.processed % every == 0 and not self.goaway_sent:
                self.send_goaway(self.highest_processed)

    def send_goaway(self, last: int) -> None:
        """A graceful GOAWAY: answer streams <= last, never process those above it."""
        # A raw frame: h2's close_connection() would also stop us answering the streams at or below
        # last_stream_id, which a graceful shutdown must still answer.
        self.flush()
        frame = GoAwayFrame(0)
        frame.last_stream_id, frame.error_code = last, 0
        assert self.transport is not None
        self.transport.write(frame.serialize())
        self.stats.goaways_sent += 1
        self.goaway_sent = True
        self.goaway_last = last
        for stream_id in [sid for sid in self.streams if sid > last]:
            self.drop(stream_id)  # received, still arriving: never processed now
        self.maybe_close_after_goaway()

    def respond(self, stream_id: int, answer: Answer, control: bool = False) -> None:
        self.pending_answers -= 1
        if self.closed or self.reset_requested or self.conn is None or stream_id not in self.streams:
            self.maybe_close_after_goaway()
            return
        status, headers, body = answer
        self.drop(stream_id)
        if not self.settings_final and not control:
            # Like APNs after the first authenticated request: the real limit from now on (sent
            # before the answer, so a client knows it by the time it sees the answer).
            self.settings_final = True
            self.conn.update_settings(
                {h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: self.behaviour.max_concurrent_streams}
            )
        try:
            self.conn.send_headers(
                stream_id,
                [(":status", str(status)), *headers, ("content-length", str(len(body)))],
                end_stream=not body,
            )
        except h2.exceptions.H2Error:
            self.settle_pending([stream_id])  # the client reset the stream meanwhile
            return
        if body:
            self.outgoing[stream_id] = memoryview(body)
            self.pump()
        else:
            self.conn.open_ids.discard(stream_id)
            self.conn.sweep()
        if not self.flush_scheduled:  # one write for all the answers due in this loop iteration
            self.flush_scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)
        if not control:
            self.stats.status_counts[status] += 1
            delivered = self.pending.pop(stream_id, None)
            if delivered is not None:
                self.stats.deliver(*delivered, answered=True)
        self.maybe_close_after_goaway()

    def pump(self) -> None:
        """Send answer bodies as far as the client's flow-control windows allow."""
        assert self.conn is not None
        conn = self.conn
        for stream_id, view in list(self.outgoing.items()):
            try:
                while view:
                    size = min(conn.local_flow_control_window(stream_id), conn.max_outbound_frame_size)
                    if size <= 0:
                        break
                    chunk, view = view[:size], view[size:]
                    conn.send_data(stream_id, bytes(chunk), end_stream=not view)
            except h2.exceptions.H2Error:
                view = memoryview(b"")  # reset by the client meanwhile
            if view:
                self.outgoing[stream_id] = view
            else:
                del self.outgoing[stream_id]
                conn.open_ids.discard(stream_id)
        conn.sweep()
        if not self.flush_scheduled:
            self.flush_scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

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
            control = _is_control(target)
            if not control:
                self.stats.requests_total += 1
            token, answer = route(method, target, headers, body, self.stats, self.behaviour)
            self.h1_requests += 1
            if token and 200 <= answer[0] < 300:
                self.pending[self.h1_requests] = (token, collapse_id_for(target, headers, body))
            # The same latency as HTTP/2; a constant delay keeps HTTP/1.1 answers in order.
            if self.behaviour.latency > 0 and not control:
                asyncio.get_running_loop().call_later(
                    self.behaviour.latency, self.h1_respond, self.h1_requests, answer
                )
            else:
                self.h1_respond(self.h1_requests, answer, control=control)

    def h1_respond(self, number: int, answer: Answer, control: bool = False) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        status, out_headers, out_body = answer
        if not control:
            self.stats.status_counts[status] += 1
            delivered = self.pending.pop(number, None)
            if delivered is not None:
                self.stats.deliver(*delivered, answered=True)
        head_lines = [f"HTTP/1.1 {status} X", f"content-length: {len(out_body)}"]
        head_lines += [f"{k}: {v}" for k, v in out_headers]
        self.transport.write(("\r\n".join(head_lines) + "\r\n\r\n").encode("latin-1") + out_body)


class FakePushService:
    """The service; ``start()`` runs it on a background thread (or ``serve()`` in this loop).

    ``alpn`` lists the protocols offered (``("http/1.1",)`` to test HTTP/1.1 fallbacks);
    ``reset_linger`` is how long a connection hit by a reset fault stays open, silent. The fault
    model, ``reset_delivered_fraction``, ``goaway_every`` and the provider-token options
    (``enforce_token_rule``, ``token_refresh_window``, ``token_max_age``) are described in the
    module docstring.
    """

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
        fault_attempts: int = 1,
        reset_linger: float = 0.5,
        initial_max_concurrent_streams: int | None = None,
        reset_delivered_fraction: float | None = None,
        goaway_every: int | None = None,
        enforce_token_rule: bool = False,
        token_refresh_window: float = 1200.0,
        token_max_age: float | None = 3600.0,
    ) -> None:
        self.behaviour = Behaviour(
            latency,
            fault_rate,
            seed,
            faults,
            fault_only_first_attempt,
            max_concurrent_streams,
            fault_attempts,
            initial_max_concurrent_streams,
            reset_delivered_fraction=reset_delivered_fraction,
            goaway_every=goaway_every,
            enforce_token_rule=enforce_token_rule,
            token_refresh_window=token_refresh_window,
            token_max_age=token_max_age,
        )
        self.stats = Stats()
        self.stats.awaiting_answer = lambda: sum(len(p.pending) for p in list(self.protocols))
        self.host, self.port, self.alpn = host, port, alpn
        self.reset_linger = reset_linger
        self.cert_dir = tempfile.mkdtemp(prefix="fakepush-")
        self.cert_file, self.key_file = make_certificate(self.cert_dir)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.server: asyncio.base_events.Server | None = None
        self.protocols: set[H2ServerProtocol] = set()
        self._thread: threading.Thread | None = None

    @property
    def ca_file(self) -> str:
        """The certificate as a CA bundle for clients (``verify=service.ca_file``)."""
        return self.cert_file

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    @property
    def accepted(self) -> collections.Counter[str]:
        return self.stats.accepted

    @property
    def answered(self) -> collections.Counter[str]:
        """2xx answers written per token (``accepted`` also counts pushes delivered unanswered)."""
        return self.stats.answered

    @property
    def shown(self) -> collections.Counter[str]:
        """Per token, what the device displays: distinct collapse ids plus pushes without one."""
        return self.stats.shown

    @property
    def delivered_unacknowledged(self) -> int:
        return self.stats.delivered_unacknowledged

    @property
    def collapsed_duplicates(self) -> int:
        return self.stats.collapsed_duplicates

    @property
    def jwts_seen(self) -> set[str]:
        return self.stats.jwts_seen

    @property
    def token_requests(self) -> int:
        return self.stats.token_requests

    @property
    def requests_total(self) -> int:
        return self.stats.requests_total

    @property
    def connections_opened(self) -> int:
        return self.stats.connections_opened

    @property
    def status_counts(self) -> collections.Counter[int]:
        return self.stats.status_counts

    def inject_fault(self, token: str, kind: str) -> None:
        """Give the next request for ``token`` the fault ``kind``, whatever the rate and attempt.

        Call it before the request is sent; several calls queue faults for successive requests.
        """
        check_fault_kinds([kind])
        self.behaviour.scripted.setdefault(token, collections.deque()).append(kind)

    def reset_counts(self) -> None:
        """Zero every counter (on the service's loop when it runs on its thread)."""
        if (
            self.loop is not None
            and self.loop.is_running()
            and threading.current_thread() is not self._thread
        ):
            done = threading.Event()

            def reset() -> None:
                self.stats.reset()
                done.set()

            self.loop.call_soon_threadsafe(reset)
            done.wait(5)
        else:
            self.stats.reset()

    def ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert_file, self.key_file)
        ctx.set_alpn_protocols(list(self.alpn))
        return ctx

    async def serve(self) -> None:
        """Listen on this loop (process mode, or the service thread)."""
        loop = asyncio.get_running_loop()
        self.loop = loop
        self.server = await loop.create_server(
            lambda: H2ServerProtocol(self), self.host, self.port, ssl=self.ssl_context(), backlog=1024
        )
        self.port = self.server.sockets[0].getsockname()[1]

    def start(self) -> FakePushService:
        """Run on a background thread with its own event loop; returns once listening."""
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
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name="fakepush", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the fake push service did not start within 10 s")
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        """Close every connection, stop the thread and delete the certificate files."""
        loop = self.loop
        if loop is not None and loop.is_running():

            def shutdown() -> None:
                if self.server is not None:
                    self.server.close()
                for protocol in list(self.protocols):
                    if protocol.transport is not None:
                        protocol.transport.abort()
                loop.call_soon(loop.stop)  # after the aborts' connection_lost callbacks

            loop.call_soon_threadsafe(shutdown)
            if self._thread is not None:
                self._thread.join(5)
        self.loop = None
        shutil.rmtree(self.cert_dir, ignore_errors=True)

    def __enter__(self) -> FakePushService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8443, help="0 picks a free port (printed)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--faults", default=",".join(ALL_FAULTS), help="comma-separated fault kinds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-concurrent-streams", type=int, default=1000)
    parser.add_argument("--fault-attempts", type=int, default=1, help="faulted attempts per token")
    parser.add_argument("--reset-linger", type=float, default=0.5, help="seconds a reset connection lingers")
    parser.add_argument(
        "--reset-delivered-fraction",
        type=float,
        default=None,
        help="share of in-flight validated streams delivered at a reset (default 0.5; delivered_reset 1.0)",
    )
    parser.add_argument(
        "--goaway-every", type=int, default=None, help="GOAWAY after N streams per connection"
    )
    parser.add_argument(
        "--enforce-token-rule", action="store_true", help="APNs: one new provider token per key per window"
    )
    parser.add_argument("--token-refresh-window", type=float, default=1200.0)
    parser.add_argument("--token-max-age", type=float, default=3600.0, help="0 accepts any iat")
    parser.add_argument("--cert-out", help="copy the CA certificate (PEM) here for clients")
    args = parser.parse_args(argv)
    service = FakePushService(
        latency=args.latency,
        fault_rate=args.fault_rate,
        seed=args.seed,
        faults=tuple(f for f in args.faults.split(",") if f),
        max_concurrent_streams=args.max_concurrent_streams,
        port=args.port,
        host=args.host,
        fault_attempts=args.fault_attempts,
        reset_linger=args.reset_linger,
        reset_delivered_fraction=args.reset_delivered_fraction,
        goaway_every=args.goaway_every,
        enforce_token_rule=args.enforce_token_rule,
        token_refresh_window=args.token_refresh_window,
        token_max_age=args.token_max_age or None,
    )
    if args.cert_out:
        shutil.copyfile(service.cert_file, args.cert_out)

    async def run() -> None:
        await service.serve()
        print(f"fakepush listening on {service.url} (CA: {args.cert_out or service.ca_file})", flush=True)
        await asyncio.Event().wait()

    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run())
    finally:
        shutil.rmtree(service.cert_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
