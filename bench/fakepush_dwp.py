"""The fake push service's Declarative Web Push check and Instance ID topic endpoints.

Kept apart from :mod:`bench.fakepush` (which calls :func:`route` first, for every request) so the
fake grows by module, not by one long file.

Declarative Web Push
--------------------
A push service cannot read a push (it is encrypted for the browser), so the fake plays the browser
for subscriptions whose id starts with ``decl``: they are subscribed with the fixed key pair below
(:data:`DECLARATIVE_P256DH`, :data:`DECLARATIVE_AUTH`). The fake decrypts such a push (RFC 8291,
with ``http_ece``) and checks it is a declarative push message as the Push API defines it
(``web_push: 8030``, ``notification.title``, an absolute ``notification.navigate``, an unsigned
``app_badge``, a boolean ``mutable``), written here independently of django_push's own builder.
A push that fails the check is answered ``400 declarative check failed: <why>`` (what Safari
would do is drop it silently: the fake makes the mistake visible). :func:`declarative_seen` holds
what each such subscription was shown.

Instance ID (FCM topics)
------------------------
``POST /iid/v1:batchAdd`` and ``/iid/v1:batchRemove`` with ``{"to": "/topics/<name>",
"registration_tokens": [...]}`` and a ``Bearer`` token (plus ``access_token_auth: true``), as
Google's Instance ID server API: ``200 {"results": [{} | {"error": "NOT_FOUND" | "INVALID_ARGUMENT"
| "INTERNAL"}, ...]}``, one result per token in order. Token rules: ``dead…`` NOT_FOUND, ``bad…``
INVALID_ARGUMENT, ``flaky…`` INTERNAL. More than 1,000 tokens, a missing or malformed ``to``, or no
tokens is ``400 {"error": "InvalidRequest"}`` (the whole batch); no bearer is ``401``.
:func:`topic_members` is each topic's membership, so a test can compare it with the database.

An FCM ``messages:send`` with ``message.topic`` or ``message.condition`` (``'a' in topics || 'b' in
topics``; only ``||`` of topics is understood, anything else is 400 INVALID_ARGUMENT) is answered here:
it reaches the topics' current members once each (:func:`topic_received`, :func:`topic_sends`).
"""

from __future__ import annotations

import base64
import json
import re
import weakref
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

Answer = tuple[int, list[tuple[str, str]], bytes]

_KEY = ec.derive_private_key(0x8030_D3C1_A8A7_1FE0_0B5E_55ED, ec.SECP256R1())
_AUTH = bytes(range(16))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


DECLARATIVE_P256DH = _b64(
    _KEY.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
)
DECLARATIVE_AUTH = _b64(_AUTH)
IID_BATCH_LIMIT = 1000
TOPIC_RE = re.compile(r"^/topics/[a-zA-Z0-9\-_.~%]{1,900}$")


class _State:
    def __init__(self) -> None:
        self.declarative: dict[str, list[dict[str, Any]]] = {}
        self.topics: dict[str, set[str]] = {}
        self.iid_calls: list[tuple[str, str, int]] = []  # (action, topic, token count)
        self.topic_sends: list[tuple[str, int]] = []  # (topic or condition, devices reached)
        self.topic_received: dict[str, int] = {}  # token -> topic/condition sends it received
        self.protocols: set[str] = set()  # "h2" / "http/1.1": how the Instance ID and topic calls came


_STATES: weakref.WeakKeyDictionary[Any, _State] = weakref.WeakKeyDictionary()


def state(stats: Any) -> _State:
    """This module's state for one service (keyed by its Stats object)."""
    found = _STATES.get(stats)
    if found is None:
        found = _STATES[stats] = _State()
    return found


def declarative_seen(stats: Any) -> dict[str, list[dict[str, Any]]]:
    """Declarative payloads accepted, per ``decl…`` subscription id."""
    return state(stats).declarative


def topic_sends(stats: Any) -> list[tuple[str, int]]:
    """FCM topic/condition sends accepted: (the topic or condition, how many members it reached)."""
    return state(stats).topic_sends


def topic_received(stats: Any) -> dict[str, int]:
    """Per token: how many topic/condition sends reached it (a device in two topics of one
    condition receives it once, as on FCM)."""
    return state(stats).topic_received


def topic_members(stats: Any) -> dict[str, set[str]]:
    """FCM topic name → registration tokens, as the fake's Instance ID service holds them."""
    return state(stats).topics


def _json(status: int, body: Any) -> Answer:
    return status, [("content-type", "application/json")], json.dumps(body).encode()


def route(
    method: str, path: str, headers: dict[str, str], body: bytes, stats: Any
) -> tuple[str, Answer] | None:
    """The answer for a request this module owns, or None to let fakepush route it."""
    if method != "POST":
        return None
    if path.startswith("/wp/decl"):
        return _declarative(path[len("/wp/") :], headers, body, stats)
    if path in ("/iid/v1:batchAdd", "/iid/v1:batchRemove"):
        state(stats).protocols.add("h2" if ":method" in headers else "http/1.1")
        return "", _iid(path.rsplit(":", 1)[1], headers, body, stats)
    if path.startswith("/v1/projects/") and path.endswith("/messages:send"):
        return _fcm_topic_send(path, headers, body, stats)
    return None


# -- Declarative Web Push -----------------------------------------------------------------------------
def _declarative(token: str, headers: dict[str, str], body: bytes, stats: Any) -> tuple[str, Answer] | None:
    if "ttl" not in headers or headers.get("content-encoding") != "aes128gcm":
        return None  # fakepush answers the protocol errors
    if not headers.get("authorization", "").startswith("vapid t="):
        return None
    import http_ece

    try:
        plaintext = http_ece.decrypt(body, private_key=_KEY, auth_secret=_AUTH, version="aes128gcm")
        payload = json.loads(plaintext)
    except Exception as exc:  # a push the browser could not read at all
        return token, (400, [], f"declarative check failed: cannot decrypt or parse ({exc})".encode())
    problem = check_declarative(payload)
    if problem:
        return token, (400, [], f"declarative check failed: {problem}".encode())
    state(stats).declarative.setdefault(token, []).append(payload)
    return None  # valid: fakepush answers 201 and counts the delivery


def check_declarative(payload: Any) -> str:
    """Why ``payload`` is not a declarative push message ('' when it is)."""
    if not isinstance(payload, dict) or payload.get("web_push") != 8030:
        return "web_push must be 8030"
    notification = payload.get("notification")
    if not isinstance(notification, dict):
        return "notification must be an object"
    if not isinstance(notification.get("title"), str):
        return "notification.title is required"
    navigate = notification.get("navigate")
    if not isinstance(navigate, str) or not re.match(r"^https?://[^/\s]+", navigate):
        return "notification.navigate must be an absolute URL"
    if notification.get("dir", "auto") not in ("auto", "ltr", "rtl"):
        return "notification.dir must be auto, ltr or rtl"
    if not isinstance(notification.get("silent", False), bool):
        return "notification.silent must be a boolean"
    badge = payload.get("app_badge", 0)
    if isinstance(badge, bool) or not isinstance(badge, int) or badge < 0:
        return "app_badge must be an unsigned integer"
    if not isinstance(payload.get("mutable", False), bool):
        return "mutable must be a boolean"
    return ""


# -- Instance ID batch endpoints ----------------------------------------------------------------------
def _iid(action: str, headers: dict[str, str], body: bytes, stats: Any) -> Answer:
    if not headers.get("authorization", "").startswith("Bearer "):
        return _json(401, {"error": "Unauthorized"})
    try:
        request = json.loads(body)
        topic, tokens = request["to"], request["registration_tokens"]
    except (ValueError, KeyError, TypeError):
        return _json(400, {"error": "InvalidRequest", "reason": "to and registration_tokens are required"})
    if not isinstance(topic, str) or not TOPIC_RE.match(topic):
        return _json(400, {"error": "InvalidRequest", "reason": "to must be /topics/<name>"})
    if not isinstance(tokens, list) or not tokens or len(tokens) > IID_BATCH_LIMIT:
        return _json(400, {"error": "InvalidRequest", "reason": f"1 to {IID_BATCH_LIMIT} tokens"})
    name = topic[len("/topics/") :]
    members = state(stats).topics.setdefault(name, set())
    state(stats).iid_calls.append((action, name, len(tokens)))
    results: list[dict[str, str]] = []
    for token in tokens:
        token = str(token)
        if token.startswith("dead"):
            results.append({"error": "NOT_FOUND"})
        elif token.startswith("bad") or not token:
            results.append({"error": "INVALID_ARGUMENT"})
        elif token.startswith("flaky"):
            results.append({"error": "INTERNAL"})
        else:
            (members.add if action == "batchAdd" else members.discard)(token)
            results.append({})
    return _json(200, {"results": results})


# -- FCM topic and condition sends ----------------------------------------------------------------------
CONDITION_TOPIC_RE = re.compile(r"^'([a-zA-Z0-9\-_.~%]{1,900})' in topics$")


def _fcm_topic_send(path: str, headers: dict[str, str], body: bytes, stats: Any) -> tuple[str, Answer] | None:
    if b'"topic"' not in body and b'"condition"' not in body:
        return None  # a token send (the benchmarks' hot path): no second JSON parse
    try:
        message = json.loads(body)["message"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(message, dict) or ("topic" not in message and "condition" not in message):
        return None  # a token send: fakepush answers it
    state(stats).protocols.add("h2" if ":method" in headers else "http/1.1")
    if not headers.get("authorization", "").startswith("Bearer "):
        return "", _json(401, {"error": {"code": 401, "status": "UNAUTHENTICATED"}})
    if "topic" in message:
        label, names = str(message["topic"]), [str(message["topic"])]
    else:
        label = str(message["condition"])
        matches = [CONDITION_TOPIC_RE.match(part.strip()) for part in label.split("||")]
        if not all(matches):
            error = {"code": 400, "status": "INVALID_ARGUMENT", "message": "unsupported condition"}
            return "", _json(400, {"error": error})
        names = [m.group(1) for m in matches if m]
    reached: set[str] = set()
    for name in names:
        reached |= state(stats).topics.get(name, set())
    for token in reached:
        state(stats).topic_received[token] = state(stats).topic_received.get(token, 0) + 1
    state(stats).topic_sends.append((label, len(reached)))
    project = path[len("/v1/projects/") : -len("/messages:send")]
    return "", _json(200, {"name": f"projects/{project}/messages/{len(state(stats).topic_sends)}"})
