"""What a message looks like on the wire, per platform, for the broadcast composer's preview step.

The payload shown is built by the backends' own pure builders (:mod:`django_push.backends.payload`)
and measured against the same limits, so it is byte for byte what the service receives and counts.
When a real backend is configured for a platform, its ``build_request`` also renders the request for a
dummy target (a fresh instance, so no live backend's caches are touched; construction does no I/O),
and its headers are shown (``exact``). Requests are built without credentials (backends add them in
``authorize``), and backend OPTIONS never leave the backend.
"""

from __future__ import annotations

import base64
import json
import os
import time
from dataclasses import dataclass, field
from typing import Any

from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

from django_push.backends import payload
from django_push.conf import DEFAULT_APPLICATION, PUSH_PLATFORMS
from django_push.exceptions import PayloadTooLarge, PushConfigurationError, PushError
from django_push.message import PushMessage, Target
from django_push.models import Platform

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
        for platform in (platforms or PUSH_PLATFORMS)
    ]


def render(message: PushMessage, platform: str, application: str = DEFAULT_APPLICATION) -> PlatformPreview:
    try:
        body, limit = payload.counted_payload(platform, message, time.time())
    except (PushError, ValueError, TypeError) as exc:
        return PlatformPreview(platform, "", 0, 0, False, error=str(exc))
    backend, note = _real_backend(platform, application)
    if backend is None:
        return PlatformPreview(platform, _pretty(body), len(body), limit, False, note=note)
    try:
        request = backend.build_request(message, _dummy_target(platform))
    except PayloadTooLarge as exc:
        return PlatformPreview(platform, _pretty(body), exc.size, exc.limit, True, error=str(exc))
    except (PushError, ValueError, TypeError) as exc:
        return PlatformPreview(platform, _pretty(body), len(body), limit, False, error=str(exc))
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HIDDEN_HEADERS}
    return PlatformPreview(platform, _pretty(body), len(body), limit, True, headers=headers)


def _application_for(platform: str, applications: list[str] | None) -> str:
    from django_push.conf import push_settings

    known = push_settings.applications_for(platform)
    for name in applications or ():
        if name in known:
            return name
    return known[0]


def _real_backend(platform: str, application: str) -> tuple[Any, str]:
    """A fresh instance of the configured backend if it builds HTTP requests (else None), and a note
    for staff when the platform has no usable backend. Notes never carry OPTIONS values."""
    from django_push.backends.http import HTTPBackend
    from django_push.handler import backend_config, build_backend

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


def _pretty(body: bytes) -> str:
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except ValueError:
        return body.decode("utf-8", "replace")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
