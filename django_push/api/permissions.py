"""Who may call the API: ``DJANGO_PUSH["API_PERMISSION_CLASSES"]``, read on every request.

Reading the setting per request (not when the view class is built) keeps ``override_settings`` and
settings changes honest, as everywhere else in django_push. Anonymous Web Push subscription is a
separate, explicit opt-in (``ALLOW_ANONYMOUS_WEBPUSH``) that only the subscribe and unsubscribe views
consult, so turning it on never opens the device list or topic endpoints.
"""

from __future__ import annotations

from typing import Any

from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from django_push.conf import push_settings
from django_push.exceptions import PushConfigurationError


def api_permission_classes() -> list[type[BasePermission]]:
    """The configured permission classes, imported now (dotted paths or classes are accepted)."""
    paths = push_settings.API_PERMISSION_CLASSES
    if isinstance(paths, str):
        raise PushConfigurationError(
            "DJANGO_PUSH['API_PERMISSION_CLASSES'] must be a list of dotted paths, not a string."
        )
    classes = []
    for path in paths:
        try:
            classes.append(import_string(path) if isinstance(path, str) else path)
        except ImportError as exc:
            raise PushConfigurationError(
                f"DJANGO_PUSH['API_PERMISSION_CLASSES'] entry {path!r} cannot be imported: {exc}"
            ) from exc
    return classes


def api_permissions() -> list[BasePermission]:
    return [cls() for cls in api_permission_classes()]


def anonymous_webpush_allowed(request: Request) -> bool:
    """True when an anonymous caller may subscribe a browser without signing in."""
    user: Any = getattr(request, "user", None)
    return bool(push_settings.ALLOW_ANONYMOUS_WEBPUSH) and not (user is not None and user.is_authenticated)


class AnonymousWebPush(BasePermission):
    """Grants access to an anonymous caller when ``ALLOW_ANONYMOUS_WEBPUSH`` is on (for the schema and
    for sites composing their own views; the API's views call :func:`anonymous_webpush_allowed`)."""

    message = gettext_lazy("Sign in to subscribe to notifications.")

    def has_permission(self, request: Request, view: Any) -> bool:
        return anonymous_webpush_allowed(request)
