"""The fake push service's Live Activity side: ActivityKit push checks, broadcasts (iOS 18) and the
channel management API. Hooked into :func:`bench.fakepush.route` by one call; state lives on the
service's ``Behaviour`` (``behaviour.live``), so a management service started with
:func:`management_service` shares its channels with the push service it was made for::

    with FakePushService() as push, management_service(push) as manage:
        # push.url: /3/device/<token> (live activity checks), /4/broadcasts/apps/<bundle id>
        # manage.url: /1/apps/<bundle id>/channels (POST create, GET read, DELETE), /all-channels (GET)
        live_state(push).broadcasts[channel_id], live_state(push).events["update"]

Checks, as Apple states them (see docs/live-activities.md for the references):

* an ``apns-push-type: liveactivity`` push to a device must use the topic ``<bundle>.push-type.liveactivity``
  (else 400 BadTopic) and ``apns-priority`` 5 or 10 (else 400 BadPriority); its payload is at most
  4096 bytes (else 413 PayloadTooLarge);
* its ``aps`` needs ``event`` (start, update, end; a broadcast only update or end), an integer
  ``timestamp``, ``content-state`` for start and update, and ``attributes-type``, ``attributes`` and an
  ``alert`` for start. APNs itself accepts such a push and the device drops it silently; the fake
  answers 400 ``BadLiveActivityPayload`` with a ``detail``, so a test sees the mistake;
* a broadcast needs ``apns-channel-id`` (400 MissingChannelId), a well-formed id (400 BadChannelId: it
  must be base64) of a channel created for that bundle (404 ChannelNotRegistered) and ``apns-push-type:
  liveactivity`` (400 InvalidPushType); it answers 200 with ``apns-request-id`` and ``apns-unique-id``;
* channel management answers 201 with ``apns-channel-id`` (create; 400 BadMessageStoragePolicy unless
  the policy is 0 or 1, 400 InvalidPushType unless the push type is LiveActivity), 200 with the
  configuration (read), 200 ``{"channels": [...]}`` (list), 204 (delete), and the channel errors above.
  It is served only by a management service (``behaviour.channel_management``): the push host answers
  404 BadPath there, as the management host does for pushes.

Every route needs ``authorization: bearer <jwt>`` (403 MissingProviderToken) and obeys the service's
provider-token rules.
"""

from __future__ import annotations

import base64
import binascii
import collections
import dataclasses
import json
import os
import time
import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.fakepush import Answer, Behaviour, FakePushService, Stats

LIVE_ACTIVITY_PAYLOAD_LIMIT = 4096
TOPIC_SUFFIX = ".push-type.liveactivity"
EVENTS = ("start", "update", "end")
BROADCAST_EVENTS = ("update", "end")


@dataclasses.dataclass
class LiveState:
    """What the fake remembers: channels per (bundle id, channel id); per channel, the broadcasts it
    accepted; per event, the Live Activity payloads that passed the checks (``payloads``: their
    ``aps``), whatever the push route then answered for the token (410 for a ``dead…`` one). Not
    cleared by ``/_reset``: it lives as long as the service."""

    channels: dict[tuple[str, str], dict[str, Any]] = dataclasses.field(default_factory=dict)
    broadcasts: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    events: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    payloads: list[dict[str, Any]] = dataclasses.field(default_factory=list)


def live_state(service_or_behaviour: Any) -> LiveState:
    """The Live Activity state of a service (or of its Behaviour), created on first use."""
    behaviour = getattr(service_or_behaviour, "behaviour", service_or_behaviour)
    state = getattr(behaviour, "live", None)
    if state is None:
        state = behaviour.live = LiveState()
    return state


def management_service(push: FakePushService, **options: Any) -> FakePushService:
    """A second service, on its own port, serving the channel management API over the same channels."""
    from bench.fakepush import FakePushService

    service = FakePushService(**options)
    # The push service's certificate, so one CA file (the backend's ``verify``) serves both hosts.
    service.cert_file, service.key_file = push.cert_file, push.key_file
    service.behaviour.channel_management = True  # type: ignore[attr-defined]
    service.behaviour.live = live_state(push)  # type: ignore[attr-defined]
    return service


def _answer(status: int, body: Any = None, headers: list[tuple[str, str]] | None = None) -> Answer:
    content = json.dumps(body).encode() if body is not None else b""
    kind = [("content-type", "application/json")] if body is not None else []
    return status, [*kind, *(headers or [])], content


def _refusal(headers: dict[str, str], stats: Stats, behaviour: Behaviour) -> Answer | None:
    from bench.fakepush import provider_token_refusal

    auth = headers.get("authorization", "")
    if not auth.startswith("bearer "):
        return _answer(403, {"reason": "MissingProviderToken"})
    stats.jwts_seen.add(auth[7:])
    return provider_token_refusal(auth[7:], stats, behaviour, time.time())


def route(
    method: str, path: str, headers: dict[str, str], body: bytes, stats: Stats, behaviour: Behaviour
) -> tuple[str, Answer] | None:
    """The answer to a Live Activity, broadcast or channel request; None to let the push route answer."""
    management = getattr(behaviour, "channel_management", False)
    if path.startswith("/1/apps/"):
        if not management:
            return "", _answer(404, {"reason": "BadPath"})
        return "", _manage(method, path, headers, body, stats, behaviour)
    if management and not path.startswith("/_"):
        return "", _answer(404, {"reason": "BadPath"})
    if path.startswith("/4/broadcasts/apps/") and method == "POST":
        return "", _broadcast(path[len("/4/broadcasts/apps/") :], headers, body, stats, behaviour)
    if path.startswith("/3/device/") and headers.get("apns-push-type") == "liveactivity":
        token = path[len("/3/device/") :]
        topic = headers.get("apns-topic", "")
        problem = None if topic.endswith(TOPIC_SUFFIX) else _answer(400, {"reason": "BadTopic"})
        problem = problem or check_payload(headers, body, EVENTS)
        if problem is not None:
            return token, problem
        _record(body, live_state(behaviour))
        return None  # the push route answers: auth, dead and bad tokens as for any push
    return None


def check_payload(headers: dict[str, str], body: bytes, events: tuple[str, ...]) -> Answer | None:
    """The refusal of a Live Activity payload, or None when it follows Apple's rules."""
    if headers.get("apns-priority", "10") not in ("5", "10"):
        return _answer(400, {"reason": "BadPriority"})
    if len(body) > LIVE_ACTIVITY_PAYLOAD_LIMIT:
        return _answer(413, {"reason": "PayloadTooLarge"})
    try:
        aps = json.loads(body)["aps"]
    except (ValueError, KeyError, TypeError):
        return _bad("the payload has no aps dictionary")
    if not isinstance(aps, dict):
        return _bad("aps is not a dictionary")
    event = aps.get("event")
    if event not in events:
        return _bad(f"event must be one of {', '.join(events)}")
    if not isinstance(aps.get("timestamp"), int) or isinstance(aps.get("timestamp"), bool):
        return _bad("timestamp (seconds since the epoch) is required")
    if event in ("start", "update") and not isinstance(aps.get("content-state"), dict):
        return _bad(f"content-state is required for {event}")
    if event == "start":
        for key in ("attributes-type", "attributes", "alert"):
            if key not in aps:
                return _bad(f"{key} is required for start")
    return None


def _bad(detail: str) -> Answer:
    return _answer(400, {"reason": "BadLiveActivityPayload", "detail": detail})


def _record(body: bytes, state: LiveState) -> None:
    aps = json.loads(body)["aps"]
    state.events[str(aps["event"])] += 1
    state.payloads.append(aps)


def _channel_id(headers: dict[str, str]) -> tuple[str, Answer | None]:
    channel_id = headers.get("apns-channel-id", "")
    if not channel_id:
        return "", _answer(400, {"reason": "MissingChannelId"})
    try:
        base64.b64decode(channel_id, validate=True)
    except (binascii.Error, ValueError):
        return channel_id, _answer(400, {"reason": "BadChannelId"})
    return channel_id, None


def _broadcast(
    bundle: str, headers: dict[str, str], body: bytes, stats: Stats, behaviour: Behaviour
) -> Answer:
    refused = _refusal(headers, stats, behaviour)
    if refused is not None:
        return refused
    if headers.get("apns-push-type") != "liveactivity":
        return _answer(400, {"reason": "InvalidPushType"})
    channel_id, problem = _channel_id(headers)
    if problem is not None:
        return problem
    state = live_state(behaviour)
    if (bundle, channel_id) not in state.channels:
        return _answer(404, {"reason": "ChannelNotRegistered"})
    problem = check_payload(headers, body, BROADCAST_EVENTS)
    if problem is not None:
        return problem
    _record(body, state)
    state.broadcasts[channel_id] += 1
    request_id = headers.get("apns-request-id") or str(uuid.uuid4())
    return _answer(200, None, [("apns-request-id", request_id), ("apns-unique-id", str(uuid.uuid4()))])


def _manage(
    method: str, path: str, headers: dict[str, str], body: bytes, stats: Stats, behaviour: Behaviour
) -> Answer:
    refused = _refusal(headers, stats, behaviour)
    if refused is not None:
        return refused
    bundle, _, rest = path[len("/1/apps/") :].partition("/")
    state = live_state(behaviour)
    request_id = [("apns-request-id", headers.get("apns-request-id") or str(uuid.uuid4()))]
    if rest == "all-channels" and method == "GET":
        channels = [cid for (b, cid) in state.channels if b == bundle]
        return _answer(200, {"channels": channels}, request_id)
    if rest != "channels":
        return _answer(404, {"reason": "BadPath"})
    if method == "POST":
        try:
            config = json.loads(body)
        except ValueError:
            config = None
        if not isinstance(config, dict) or config.get("message-storage-policy") not in (0, 1):
            return _answer(400, {"reason": "BadMessageStoragePolicy"})
        if config.get("push-type") != "LiveActivity":
            return _answer(400, {"reason": "InvalidPushType"})
        channel_id = base64.b64encode(os.urandom(16)).decode()
        state.channels[(bundle, channel_id)] = {
            "message-storage-policy": config["message-storage-policy"],
            "push-type": "LiveActivity",
        }
        return _answer(201, None, [*request_id, ("apns-channel-id", channel_id)])
    channel_id, problem = _channel_id(headers)
    if problem is not None:
        return problem
    if (bundle, channel_id) not in state.channels:
        return _answer(404, {"reason": "ChannelNotRegistered"})
    if method == "GET":
        return _answer(200, state.channels[(bundle, channel_id)], request_id)
    if method == "DELETE":
        del state.channels[(bundle, channel_id)]
        return _answer(204, None, request_id)
    return _answer(405, {"reason": "MethodNotAllowed"})
