"""What an APNs request carries for a message: the JSON body and the target-independent headers
(apns-push-type, apns-topic with its push type's suffix, apns-priority, apns-expiration, apns-collapse-id).

Pure: :class:`~django_push.backends.apns.APNsBackend` caches the result per batch and adds the device
token's path and the authorization.
"""

from __future__ import annotations

from collections.abc import Callable

from django_push.backends import apns_live
from django_push.backends.payload import apns_limit, apns_payload, dumps, effective_push_type
from django_push.backends.priorities import for_priority
from django_push.exceptions import MessageRejected, PayloadTooLarge
from django_push.message import APNS_PUSH_TYPES, PushMessage

COLLAPSE_ID_LIMIT = 64

# apns-topic is the bundle id plus the suffix each push type requires.
TOPIC_SUFFIX = {
    "voip": ".voip",
    "complication": ".complication",
    "fileprovider": ".pushkit.fileprovider",
    "liveactivity": ".push-type.liveactivity",
    "pushtotalk": ".voip-ptt",
    "location": ".location-query",
    "widgets": ".push-type.widgets",
    "controls": ".push-type.controls",
}


def encode_message(
    message: PushMessage, topic: str, clock: Callable[[], float]
) -> tuple[bytes, dict[str, str]]:
    """The body and target-independent headers of ``message`` for ``topic`` (the app's bundle id);
    ``clock`` gives the time apns-expiration counts from."""
    push_type = effective_push_type(message)
    if message.live_activity is not None:
        if push_type != "liveactivity":
            raise MessageRejected(
                f"a message with live_activity is sent with push_type 'liveactivity', not {push_type!r}",
                error_code="invalid_push_type",
            )
        body, headers = apns_live.encode(message, clock)
        suffix = TOPIC_SUFFIX["liveactivity"]
        headers["apns-topic"] = topic if topic.endswith(suffix) else topic + suffix
        return body, _collapse(message, headers)
    if push_type not in APNS_PUSH_TYPES:
        raise MessageRejected(
            f"push_type {push_type!r} is not one of {', '.join(APNS_PUSH_TYPES)}",
            error_code="invalid_push_type",
        )
    body = dumps(apns_payload(message))
    limit = apns_limit(push_type)
    if len(body) > limit:
        raise PayloadTooLarge(len(body), limit, "APNs")
    suffix = TOPIC_SUFFIX.get(push_type, "")
    headers = {
        "apns-push-type": push_type,
        "apns-topic": topic if topic.endswith(suffix) else topic + suffix,
        "apns-priority": "5"
        if push_type == "background"
        else str(for_priority(message.priority).apns_priority),
    }
    if message.ttl is not None:
        headers["apns-expiration"] = "0" if message.ttl == 0 else str(int(clock()) + message.ttl)
    return body, _collapse(message, headers)


def _collapse(message: PushMessage, headers: dict[str, str]) -> dict[str, str]:
    if message.collapse_id:
        size = len(message.collapse_id.encode())
        if size > COLLAPSE_ID_LIMIT:
            raise MessageRejected(
                f"APNs collapse id is {size} bytes, over the limit of {COLLAPSE_ID_LIMIT} bytes",
                error_code="collapse_id_too_long",
            )
        headers["apns-collapse-id"] = message.collapse_id
    return headers
