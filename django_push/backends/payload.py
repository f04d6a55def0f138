"""Pure payload builders shared by the backends and the admin preview.

Every function here is a pure translation of a :class:`~django_push.message.PushMessage` into what a
service receives, with the service's size limit beside it. The backends build their requests with
these, and the admin's preview shows exactly these bytes, so a preview never drifts from a send.
"""

from __future__ import annotations

import json
from typing import Any

from django_push.backends.priorities import DEFAULT_INTERRUPTION_LEVEL, fcm_android_priority, for_priority
from django_push.message import PushMessage

APNS_PAYLOAD_LIMIT = 4096
APNS_VOIP_PAYLOAD_LIMIT = 5120
FCM_PAYLOAD_LIMIT = 4096
# 4096-byte record - 86-byte aes128gcm header - 16-byte tag - 1 padding delimiter (RFC 8291 §4).
WEBPUSH_PLAINTEXT_LIMIT = 3993


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON, as every service is sent it."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Merge ``extra`` into ``base`` recursively (``None`` deletes a key); returns ``base``."""
    for key, value in extra.items():
        if value is None:
            base.pop(key, None)
        elif isinstance(value, dict) and isinstance(base.get(key), dict):
            deep_merge(base[key], value)
        else:
            base[key] = value
    return base


def effective_push_type(message: PushMessage) -> str:
    """The apns-push-type: "background" for a content-only message sent as the default "alert"."""
    push_type = message.push_type or "alert"
    return "background" if push_type == "alert" and message.is_background else push_type


def apns_alert(message: PushMessage) -> dict[str, Any]:
    pairs = (
        ("title", message.title),
        ("body", message.body),
        ("title-loc-key", message.title_loc_key),
        ("title-loc-args", message.title_loc_args if message.title_loc_key else None),
        ("loc-key", message.loc_key),
        ("loc-args", message.loc_args if message.loc_key else None),
    )
    return {key: value for key, value in pairs if value}


def build_aps(message: PushMessage, *, alert: bool = True) -> dict[str, Any]:
    """The ``aps`` dictionary (shared with FCM's ``apns.payload``)."""
    if effective_push_type(message) == "background":
        return {"content-available": 1}
    aps: dict[str, Any] = {}
    alert_dict = apns_alert(message) if alert else {}
    if alert_dict:
        aps["alert"] = alert_dict
    if message.badge is not None:
        aps["badge"] = message.badge
    if isinstance(message.sound, dict):
        aps["sound"] = message.sound
    elif message.sound:
        aps["sound"] = (
            {"critical": 1, "name": message.sound, "volume": 1.0}
            if message.priority == "critical"
            else message.sound
        )
    if message.thread_id:
        aps["thread-id"] = message.thread_id
    if message.category:
        aps["category"] = message.category
    if message.mutable_content:
        aps["mutable-content"] = 1
    if message.content_available:
        aps["content-available"] = 1
    level = message.interruption_level or for_priority(message.priority).apns_interruption_level
    if level != DEFAULT_INTERRUPTION_LEVEL:
        aps["interruption-level"] = level
    if message.relevance_score is not None:
        aps["relevance-score"] = message.relevance_score
    return aps


def apns_payload(message: PushMessage) -> dict[str, Any]:
    """The JSON payload: ``aps``, custom data beside it, then ``overrides["apns"]`` deep-merged."""
    payload: dict[str, Any] = {"aps": build_aps(message)}
    payload.update((k, v) for k, v in message.data.items() if k != "aps")
    if message.url and "url" not in payload:
        payload["url"] = message.url
    return deep_merge(payload, message.overrides.get("apns", {}))


def string_data(data: dict[str, Any]) -> dict[str, str]:
    """FCM data values must be strings: keep strings, JSON-encode everything else."""
    return {
        str(k): v if isinstance(v, str) else json.dumps(v, separators=(",", ":"), ensure_ascii=False)
        for k, v in data.items()
    }


def fcm_message(message: PushMessage, now: float) -> dict[str, Any]:
    """The ``message`` object without its target, ``overrides["fcm"]`` deep-merged last."""
    prio = for_priority(message.priority)
    push_type = effective_push_type(message)
    background = push_type == "background"
    body: dict[str, Any] = {}
    notification = {
        k: v for k, v in (("title", message.title), ("body", message.body), ("image", message.image)) if v
    }
    if notification and not background:
        body["notification"] = notification
    if message.data:
        body["data"] = string_data(message.data)
    android: dict[str, Any] = {"priority": fcm_android_priority(message.priority, background)}
    if message.ttl is not None:
        android["ttl"] = f"{message.ttl}s"
    if message.collapse_key or message.resend:
        android["collapse_key"] = message.collapse_id
    sound = message.sound.get("name") if isinstance(message.sound, dict) else message.sound
    android_notification = {
        k: v
        for k, v in (
            ("channel_id", message.channel_id),
            ("title_loc_key", message.title_loc_key),
            ("title_loc_args", message.title_loc_args if message.title_loc_key else None),
            ("body_loc_key", message.loc_key),
            ("body_loc_args", message.loc_args if message.loc_key else None),
            ("icon", message.icon),
            ("sound", sound),
            ("tag", message.collapse_id),
        )
        if v
    }
    if android_notification and not background:
        android["notification"] = android_notification
    body["android"] = android
    apns_headers = {
        "apns-priority": "5" if background else str(prio.apns_priority),
        "apns-push-type": push_type,
    }
    if message.ttl is not None:
        apns_headers["apns-expiration"] = "0" if message.ttl == 0 else str(int(now) + message.ttl)
    if message.collapse_id:
        apns_headers["apns-collapse-id"] = message.collapse_id
    aps = build_aps(message, alert=False)
    if not background and (message.title_loc_key or message.loc_key):
        aps["alert"] = apns_alert(message)  # FCM's notification has no loc keys for iOS
    body["apns"] = {"headers": apns_headers, **({"payload": {"aps": aps}} if aps else {})}
    webpush: dict[str, Any] = {"headers": {"Urgency": prio.webpush_urgency}}
    if message.ttl is not None:
        webpush["headers"]["TTL"] = str(message.ttl)
    if message.icon and not background:
        webpush["notification"] = {"icon": message.icon}
    if message.url.startswith("https://"):  # FCM refuses any other link
        webpush["fcm_options"] = {"link": message.url}
    body["webpush"] = webpush
    deep_merge(body, message.overrides.get("fcm", {}))
    for key in ("token", "topic", "condition"):
        body.pop(key, None)
    return body


def webpush_payload(message: PushMessage) -> dict[str, Any]:
    """The JSON the service worker receives (see static/django_push/sw.js), overrides merged."""
    payload: dict[str, Any] = {"title": message.title, "body": message.body}
    for key in ("icon", "image", "url"):
        if getattr(message, key):
            payload[key] = getattr(message, key)
    if message.collapse_id:
        payload["tag"] = message.collapse_id
    if message.data:
        payload["data"] = message.data
    return deep_merge(payload, message.overrides.get("webpush", {}))


def apns_limit(push_type: str) -> int:
    return APNS_VOIP_PAYLOAD_LIMIT if push_type == "voip" else APNS_PAYLOAD_LIMIT


def counted_payload(platform: str, message: PushMessage, now: float = 0.0) -> tuple[bytes, int]:
    """``(bytes the service counts against its limit, the limit)`` for one platform."""
    if platform == "apns":
        return dumps(apns_payload(message)), apns_limit(effective_push_type(message))
    if platform == "fcm":
        return dumps(fcm_message(message, now)), FCM_PAYLOAD_LIMIT
    return dumps(webpush_payload(message)), WEBPUSH_PLAINTEXT_LIMIT
