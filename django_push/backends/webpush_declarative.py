"""Declarative Web Push (Safari 18.4+): the payload a browser shows without running JavaScript.

Why a second format: Safari shows a *declarative* push message itself, with no service worker, so a
notification cannot be lost to a worker that failed to run. The format is defined by the W3C Push API
("declarative push message", https://w3c.github.io/push-api/, app badge added by w3c/push-api#402)
and introduced in WebKit's "Meet Declarative Web Push" (https://webkit.org/blog/16535/):

    {"web_push": 8030,
     "notification": {"title": …, "navigate": "https://…", "body", "lang", "dir", "tag", "icon",
                      "image", "silent", "data", …},
     "app_badge": 3, "mutable": false}

``title`` and ``navigate`` (an absolute URL opened on click) are required; ``app_badge`` and ``mutable``
sit beside ``notification``. Browsers without declarative support hand the same JSON to the service
worker, and django_push's ``sw.js`` understands it, so one payload serves both.

Pure functions only: the backend chooses the format per target with :func:`use_declarative`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin, urlsplit

from django_push.backends.payload import deep_merge
from django_push.exceptions import MessageRejected
from django_push.message import PushMessage, Target

LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")  # secure contexts over plain http, as in browsers
DECLARATIVE_MAGIC = 8030  # the "web_push" member: RFC 8030, the Web Push protocol
PAYLOAD_FORMATS = ("classic", "declarative", "auto")
DIRECTIONS = ("auto", "ltr", "rtl")
ERROR_NO_URL = "declarative_needs_url"


class DeclarativeUnavailable(MessageRejected):
    """This message cannot be sent declaratively (no URL to navigate to): REJECTED, never retried."""

    error_code = ERROR_NO_URL


def is_secure_url(url: str) -> bool:
    """An absolute URL a browser treats as a secure context: https, or http on a loopback host."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return bool(parts.netloc)
    return parts.scheme == "http" and parts.netloc.rsplit(":", 1)[0] in LOCAL_HOSTS


def navigate_url(message: PushMessage, base_url: str) -> str:
    """The absolute ``navigate`` URL: the message's ``url`` (or ``data["url"]``), joined to ``base_url``
    when relative. Raises :class:`DeclarativeUnavailable` when there is none: a declarative message
    without ``navigate`` is not a declarative message, and Safari would drop it."""
    url = message.url or str(message.data.get("url") or "")
    if url and base_url and not urlsplit(url).scheme:
        url = urljoin(base_url, url)
    parts = urlsplit(url)
    if is_secure_url(url):
        return url
    if not url:
        why = "the message has no url to open on click"
    elif not parts.scheme:
        why = f"its url {url!r} is relative and the backend has no declarative_base_url to resolve it"
    else:
        why = f"its url {url!r} is not an https:// URL"
    raise DeclarativeUnavailable(f"cannot send declarative Web Push: {why} ('navigate' is required)")


def declarative_payload(message: PushMessage, base_url: str = "") -> dict[str, Any]:
    """The declarative push message for ``message``; ``overrides["webpush"]`` is deep-merged last, so
    a site can set ``mutable`` or any NotificationOptions member this does not model."""
    notification: dict[str, Any] = {"title": message.title, "navigate": navigate_url(message, base_url)}
    if message.body:
        notification["body"] = message.body
    for key in ("icon", "image"):
        if getattr(message, key):
            notification[key] = getattr(message, key)
    if message.collapse_id:
        notification["tag"] = message.collapse_id
    if message.data:
        notification["data"] = message.data
    payload: dict[str, Any] = {"web_push": DECLARATIVE_MAGIC, "notification": notification}
    if message.badge is not None:
        payload["app_badge"] = max(0, int(message.badge))
    return deep_merge(payload, message.overrides.get("webpush", {}))


def has_navigate_url(message: PushMessage, base_url: str) -> bool:
    try:
        navigate_url(message, base_url)
    except DeclarativeUnavailable:
        return False
    return True


def use_declarative(payload_format: str, target: Target, message: PushMessage, base_url: str) -> bool:
    """Whether to send ``message`` to ``target`` declaratively.

    ``classic``: never. ``declarative``: always (a message without a URL is then REJECTED by
    :func:`navigate_url`, with the reason). ``auto``: for subscriptions made through
    ``window.pushManager`` (``target.declarative``) when the message has a URL to navigate to; a
    message without one falls back to the classic payload, which django_push's service worker shows.
    """
    if payload_format == "classic":
        return False
    if payload_format == "declarative":
        return True
    return target.declarative and has_navigate_url(message, base_url)


def check_declarative_payload(payload: Any) -> str:
    """Why ``payload`` is not a valid declarative push message ('' when it is). Used by tests and the
    fake push service, so what we send and what we check are held to the same rules."""
    if not isinstance(payload, dict) or payload.get("web_push") != DECLARATIVE_MAGIC:
        return "web_push must be 8030"
    notification = payload.get("notification")
    if not isinstance(notification, dict):
        return "notification must be an object"
    if not isinstance(notification.get("title"), str):
        return "notification.title is required"
    navigate = notification.get("navigate")
    parts = urlsplit(navigate) if isinstance(navigate, str) else None
    if parts is None or parts.scheme not in ("https", "http") or not parts.netloc:
        return "notification.navigate must be an absolute URL"
    if "dir" in notification and notification["dir"] not in DIRECTIONS:
        return "notification.dir must be auto, ltr or rtl"
    if "silent" in notification and not isinstance(notification["silent"], bool):
        return "notification.silent must be a boolean"
    badge = payload.get("app_badge")
    if badge is not None and (isinstance(badge, bool) or not isinstance(badge, int) or badge < 0):
        return "app_badge must be an unsigned integer"
    if "mutable" in payload and not isinstance(payload["mutable"], bool):
        return "mutable must be a boolean"
    return ""
