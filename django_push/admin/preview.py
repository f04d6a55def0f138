"""What a message looks like on the wire, per platform, for the broadcast composer's preview step.

When a real backend is configured for a platform, its own ``build_request`` renders the message for a
dummy target (a fresh instance, so no live backend's caches are touched; construction does no I/O), and
the payload shown is the one the service counts against its limit. Otherwise (locmem, console, dummy,
or no backend) a simple service-shaped rendering stands in, marked "approximate".

Nothing secret is shown: backend OPTIONS never leave the backend, and the ``authorization`` header
of a rendered request is dropped.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass, field
from typing import Any

from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

from ..conf import DEFAULT_APPLICATION, PLATFORMS
from ..exceptions import PayloadTooLarge, PushConfigurationError, PushError
from ..message import PushMessage, Target
from ..models import Platform

#: Bytes each service accepts (APNs: 5120 for VoIP pushes; Web Push: plaintext before encryption).
LIMITS = {"apns": 4096, "fcm": 4096, "webpush": 3993}
APNS_VOIP_LIMIT = 5120
HIDDEN_HEADERS = {"authorization", "content-length", "content-type", "content-encoding", "host"}
DUMMY_APNS_TOKEN = "0" * 64
DUMMY_WEBPUSH_ENDPOINT = "https://fcm.googleapis.com/fcm/send/django-push-admin-preview"


@dataclass
class PlatformPreview:
    platform: str
    payload: str  # pretty-printed JSON, for people
    size: int  # bytes the service counts
    limit: int
    exact: bool  # rendered by the configured backend itself
    headers: dict[str, str] = field(default_factory=dict)
    error: str = ""
    note: str = ""  # e.g. no backend configured for the platform: its devices would fail
    devices: int | None = None

    @property
    def label(self) -> str:
        return str(Platform(self.platform).label)

    @property
    def over_limit(self) -> bool:
        return self.size > self.limit

    @property
    def ok(self) -> bool:
        return not self.error and not self.over_limit

    @property
    def percent(self) -> int:
        return min(100, round(100 * self.size / self.limit)) if self.limit else 0

    @property
    def problem(self) -> str:
        if self.error:
            return self.error
        if self.over_limit:
            return str(
                _("%(platform)s payload is %(size)d bytes, over the limit of %(limit)d bytes.")
                % {"platform": self.label, "size": self.size, "limit": self.limit}
            )
        return ""


def render_all(
    message: PushMessage, platforms: list[str] | None = None, applications: list[str] | None = None
) -> list[PlatformPreview]:
    return [
        render(message, platform, _application_for(platform, applications))
        for platform in (platforms or PLATFORMS)
    ]


def render(message: PushMessage, platform: str, application: str = DEFAULT_APPLICATION) -> PlatformPreview:
    limit = APNS_VOIP_LIMIT if platform == "apns" and message.push_type == "voip" else LIMITS[platform]
    backend, note = _real_backend(platform, application)
    if backend is not None:
        try:
            request = backend.build_request(message, _dummy_target(platform))
            body = _counted_body(platform, backend, message, request.content)
        except PayloadTooLarge as exc:
            approx = _approximate(platform, message)
            return PlatformPreview(platform, _pretty(approx), exc.size, exc.limit, True, error=str(exc))
        except (PushError, ValueError, TypeError) as exc:
            approx = _approximate(platform, message)
            return PlatformPreview(platform, _pretty(approx), len(approx), limit, False, error=str(exc))
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HIDDEN_HEADERS}
        return PlatformPreview(platform, _pretty(body), len(body), limit, True, headers=headers)
    body = _approximate(platform, message)
    return PlatformPreview(platform, _pretty(body), len(body), limit, False, note=note)


def _application_for(platform: str, applications: list[str] | None) -> str:
    from ..conf import push_settings

    known = push_settings.applications_for(platform)
    for name in applications or ():
        if name in known:
            return name
    return known[0]


def _real_backend(platform: str, application: str) -> tuple[Any, str]:
    """A fresh instance of the configured backend if it builds HTTP requests (else None), and a note
    for staff when the platform has no usable backend. Notes never carry OPTIONS values."""
    from ..backends.base import HTTPBackend
    from ..handler import backend_config, build_backend

    try:
        path, _options = backend_config(platform, application)
    except PushConfigurationError as exc:
        return None, str(exc)  # names setting paths only, e.g. 'DJANGO_PUSH["BACKENDS"] has no …'
    try:
        cls = import_string(path)
    except ImportError:
        return None, str(_("The backend %(path)s cannot be imported.") % {"path": path})
    if not (isinstance(cls, type) and issubclass(cls, HTTPBackend)):
        return None, ""  # locmem, console, dummy: nothing service-shaped to render
    try:
        return build_backend(platform, application), ""
    except Exception as exc:  # a misconfigured backend: say which check to run, not what its options hold
        return None, str(
            _("The %(platform)s backend cannot be built (%(error)s); run manage.py check.")
            % {"platform": platform, "error": type(exc).__name__}
        )


def _dummy_target(platform: str) -> Target:
    if platform == "webpush":
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        public = (
            ec.generate_private_key(ec.SECP256R1())
            .public_key()
            .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        )
        return Target(DUMMY_WEBPUSH_ENDPOINT, _b64(public), _b64(os.urandom(16)))
    if platform == "apns":
        return Target(DUMMY_APNS_TOKEN)
    return Target("django-push-admin-preview")


def _counted_body(platform: str, backend: Any, message: PushMessage, content: bytes) -> bytes:
    """The bytes the service counts: APNs the body, FCM the message without its target, Web Push
    the plaintext (the request body is encrypted)."""
    if platform == "webpush":
        plaintext = getattr(backend, "plaintext", None)
        if plaintext is None:
            return _approximate(platform, message)
        return bytes(plaintext(message))
    if platform == "fcm":
        try:
            inner = json.loads(content)["message"]
        except (ValueError, KeyError, TypeError):
            return content
        for key in ("token", "topic", "condition"):
            inner.pop(key, None)
        return _dumps(inner)
    return content


def _approximate(platform: str, message: PushMessage) -> bytes:
    """A service-shaped rendering for platforms without a real backend configured."""
    background = message.push_type == "background"
    payload: dict[str, Any]
    if platform == "apns":
        alert = {k: v for k, v in (("title", message.title), ("body", message.body)) if v}
        aps: dict[str, Any] = {"content-available": 1} if background or not alert else {"alert": alert}
        if message.collapse_key and not background:
            aps["thread-id"] = message.collapse_key
        payload = {"aps": aps, **{k: v for k, v in message.data.items() if k != "aps"}}
    elif platform == "fcm":
        payload = {}
        notification = {k: v for k, v in (("title", message.title), ("body", message.body)) if v}
        if notification and not background:
            payload["notification"] = notification
        if message.data:
            payload["data"] = {
                k: v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))
                for k, v in message.data.items()
            }
        android: dict[str, Any] = {"priority": "NORMAL" if message.priority == "low" else "HIGH"}
        if message.ttl is not None:
            android["ttl"] = f"{message.ttl}s"
        if message.collapse_key:
            android["collapse_key"] = message.collapse_key
        payload["android"] = android
    else:
        payload = {"title": message.title, "body": message.body}
        if message.collapse_key:
            payload["tag"] = message.collapse_key
        if message.data:
            payload["data"] = message.data
    _merge(payload, message.overrides.get(platform) or {})
    return _dumps(payload)


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        if value is None:
            base.pop(key, None)
        elif isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _pretty(body: bytes) -> str:
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except ValueError:
        return body.decode("utf-8", "replace")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
