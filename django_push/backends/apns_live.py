"""ActivityKit pushes (Live Activities): the rules Apple sets for their payload, as pure functions.

A Live Activity push is an APNs request with ``apns-push-type: liveactivity`` and the topic
``<bundle id>.push-type.liveactivity``; its ``aps`` carries ``event`` (start, update or end),
``timestamp``, ``content-state`` and, for a start, ``attributes-type`` and ``attributes`` (Apple:
"Starting and updating Live Activities with ActivityKit push notifications",
https://developer.apple.com/documentation/activitykit/starting-and-updating-live-activities-with-activitykit-push-notifications).

The same content goes to one device per request (``/3/device/<token>``) or to every subscriber of a
channel in one request (``/4/broadcasts/apps/<bundle id>``, iOS 18; see
:mod:`django_push.backends.apns_channels`).

What a :class:`~django_push.message.PushMessage` says about the activity is its ``live_activity``
mapping (snake_case keys, JSON-storable so a Notification keeps it)::

    {"event": "update", "timestamp": 1767225600, "content_state": {"home": 1, "away": 0},
     "stale_date": 1767229200, "relevance_score": 50, "apns_priority": 5}

Everything Apple would drop silently on the device (a start without attributes, an update without
content-state, a stale timestamp missing, priority 1) is refused here, before sending, with a
:class:`LiveActivityError` naming the field: a device ignores a bad ActivityKit push without any
answer telling us why.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django_push.backends.payload import apns_alert, deep_merge, dumps
from django_push.exceptions import MessageRejected, PayloadTooLarge
from django_push.message import PushMessage

EVENTS = ("start", "update", "end")
#: Broadcast channels carry updates and ends; an activity joins a channel when it starts.
BROADCAST_EVENTS = ("update", "end")
#: ActivityKit push payloads are limited to 4 KB, like alerts.
LIVE_ACTIVITY_PAYLOAD_LIMIT = 4096
#: 5: delivered power-considerately, not counted against the update budget (use it for frequent
#: updates); 10: delivered at once, counted against the budget iOS gives the activity.
PRIORITIES = (5, 10)
FIELDS = (
    "event",
    "timestamp",
    "content_state",
    "stale_date",
    "dismissal_date",
    "relevance_score",
    "attributes_type",
    "attributes",
    "input_push_token",
    "input_push_channel",
    "apns_priority",
)
_DATES = ("timestamp", "stale_date", "dismissal_date")


class LiveActivityError(MessageRejected):
    """A Live Activity payload Apple's rules refuse; ``field`` names the key of ``live_activity``."""

    error_code = "invalid_live_activity"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"live_activity[{field!r}]: {message}")
        self.field = field
        self.detail = message


def normalize(spec: Mapping[str, Any], *, has_alert: bool = False, broadcast: bool = False) -> dict[str, Any]:
    """Check ``spec`` (a message's ``live_activity``) against Apple's rules; the normalized copy.

    ``has_alert``: the message has a title, body or localized alert (a start needs one: the system
    shows it when it starts the activity). ``broadcast``: for a channel, where only update and end
    are allowed. Raises :class:`LiveActivityError` naming the first wrong field.
    """
    if not isinstance(spec, Mapping):
        raise LiveActivityError("event", "live_activity must be a mapping of the fields " + ", ".join(FIELDS))
    unknown = sorted(set(spec) - set(FIELDS))
    if unknown:
        raise LiveActivityError(unknown[0], f"unknown field; the fields are {', '.join(FIELDS)}")
    out = {k: v for k, v in spec.items() if v is not None}
    event = out.get("event")
    allowed = BROADCAST_EVENTS if broadcast else EVENTS
    if event not in allowed:
        raise LiveActivityError("event", f"must be one of {', '.join(allowed)}, not {event!r}")
    for name in _DATES:
        value = out.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise LiveActivityError(name, f"must be seconds since the epoch (an int >= 0), not {value!r}")
    if "timestamp" not in out:
        raise LiveActivityError(
            "timestamp",
            "is required: the device drops an update older than the last one it applied, by this time",
        )
    if "content_state" in out and not isinstance(out["content_state"], dict):
        raise LiveActivityError("content_state", "must be a JSON object matching the app's ContentState")
    if event in ("start", "update") and "content_state" not in out:
        raise LiveActivityError("content_state", f"is required for the {event} event")
    if "dismissal_date" in out and event != "end":
        raise LiveActivityError("dismissal_date", "applies to the end event only")
    score = out.get("relevance_score")
    if score is not None and (isinstance(score, bool) or not isinstance(score, int | float) or score < 0):
        raise LiveActivityError("relevance_score", f"must be a number >= 0, not {score!r}")
    priority = out.get("apns_priority")
    if priority is not None and priority not in PRIORITIES:
        raise LiveActivityError(
            "apns_priority",
            f"must be 5 (frequent updates, not counted against the budget) or 10 (at once, counted), "
            f"not {priority!r}",
        )
    if event == "start":
        if not isinstance(out.get("attributes_type"), str) or not out["attributes_type"]:
            raise LiveActivityError(
                "attributes_type", "is required for start: the app's ActivityAttributes type"
            )
        if not isinstance(out.get("attributes"), dict):
            raise LiveActivityError(
                "attributes", "is required for start: a JSON object of the static attributes"
            )
        if not has_alert:
            raise LiveActivityError("event", "a start needs an alert: give the message a title or a body")
    else:
        for name in ("attributes_type", "attributes", "input_push_token", "input_push_channel"):
            if name in out:
                raise LiveActivityError(name, "applies to the start event only")
    channel = out.get("input_push_channel")
    if channel is not None and (not isinstance(channel, str) or not channel):
        raise LiveActivityError("input_push_channel", "must be a broadcast channel id")
    return out


def priority(message: PushMessage, spec: Mapping[str, Any]) -> int:
    """The apns-priority: the spec's own, else 10 for a start or a high/critical message, else 5.

    5 is the default for updates because iOS budgets priority-10 updates per activity; an app
    updating a score every few seconds at 10 soon has its updates throttled.
    """
    explicit = spec.get("apns_priority")
    if explicit is not None:
        return int(explicit)
    if spec.get("event") == "start" or message.priority in ("critical", "high"):
        return 10
    return 5


def aps(message: PushMessage, spec: Mapping[str, Any]) -> dict[str, Any]:
    """The ``aps`` dictionary of an ActivityKit push (``spec`` already normalized)."""
    out: dict[str, Any] = {"timestamp": spec["timestamp"], "event": spec["event"]}
    for key, wire in (
        ("content_state", "content-state"),
        ("stale_date", "stale-date"),
        ("dismissal_date", "dismissal-date"),
        ("relevance_score", "relevance-score"),
        ("attributes_type", "attributes-type"),
        ("attributes", "attributes"),
        ("input_push_channel", "input-push-channel"),
    ):
        if key in spec:
            out[wire] = spec[key]
    if spec["event"] == "start" and spec.get("input_push_token", True):
        out["input-push-token"] = 1  # ask the device for the new activity's update token
    alert = apns_alert(message)
    if alert:
        out["alert"] = alert
        if isinstance(message.sound, str | dict) and message.sound:
            alert["sound"] = message.sound
    return out


def payload(message: PushMessage, spec: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON payload: ``aps``, custom data beside it, ``overrides["apns"]`` deep-merged last."""
    body: dict[str, Any] = {"aps": aps(message, spec)}
    body.update((k, v) for k, v in message.data.items() if k != "aps")
    return deep_merge(body, message.overrides.get("apns", {}))


def has_alert(message: PushMessage) -> bool:
    return bool(apns_alert(message))


def encode(
    message: PushMessage, clock: Callable[[], float], *, broadcast: bool = False
) -> tuple[bytes, dict[str, str]]:
    """Body and headers (push type, priority, expiration) shared by device and channel requests.

    The caller adds the topic (device requests) or the channel id (broadcasts).
    """
    if message.live_activity is None:
        raise LiveActivityError("event", "the message has no live_activity")
    spec = normalize(message.live_activity, has_alert=has_alert(message), broadcast=broadcast)
    body = dumps(payload(message, spec))
    if len(body) > LIVE_ACTIVITY_PAYLOAD_LIMIT:
        raise PayloadTooLarge(len(body), LIVE_ACTIVITY_PAYLOAD_LIMIT, "APNs Live Activity")
    headers = {"apns-push-type": "liveactivity", "apns-priority": str(priority(message, spec))}
    if message.ttl is not None:
        headers["apns-expiration"] = "0" if message.ttl == 0 else str(int(clock()) + message.ttl)
    return body, headers
