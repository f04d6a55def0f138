"""The unsubscribe page behind the ``List-Unsubscribe`` link of every e-mail: no login needed.

GET shows a confirmation (link scanners and previews follow GETs, so a GET changes nothing); POST
switches the preference off. The POST is what RFC 8058 one-click clients send (body
``List-Unsubscribe=One-Click``), with no cookie and no CSRF token: the signed token in the URL is the
capability, so the view is CSRF-exempt. A bad or expired token gets a 400 page, never a 500.
"""

from __future__ import annotations

from typing import Any

from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from django_push.compose import unsubscribe as service
from django_push.compose.types import lookup
from django_push.models import NotificationPreference

TEMPLATE = "django_push/unsubscribe.html"


@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    try:
        wanted = service.read_token(token)
    except (signing.BadSignature, ValueError):
        return _page(request, "invalid", status=400)
    kind = lookup(wanted.notification_type)
    context: dict[str, Any] = {
        "label": kind.label if kind is not None else wanted.notification_type,
        "channel_label": getattr(
            NotificationPreference._meta.get_field(wanted.channel), "verbose_name", wanted.channel
        ),
    }
    if kind is not None and kind.required:
        return _page(request, "required", **context)
    if request.method == "POST":
        service.unsubscribe(wanted)
        return _page(request, "done", **context)
    return _page(request, "confirm", **context)


def _page(request: HttpRequest, state: str, status: int = 200, **context: Any) -> HttpResponse:
    response = render(request, TEMPLATE, {"state": state, **context}, status=status)
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"  # the token must not leak to linked sites
    return response
