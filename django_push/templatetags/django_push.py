"""Template tags for the browser half of Web Push.

``{% load django_push %}`` then, in the page's <head> or before </body>:

* ``{% push_scripts %}``: the subscribe helper, configured with the API's URLs and the service worker.
* ``{% push_subscribe_button %}``: a button that turns notifications on and off.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django import template
from django.conf import settings
from django.middleware.csrf import get_token
from django.templatetags.static import static
from django.urls import reverse
from django.utils.html import format_html

register = template.Library()

API_NAMES = {
    "subscribe": "django_push:webpush-subscribe",
    "unsubscribe": "django_push:webpush-unsubscribe",
    "resubscribe": "django_push:webpush-resubscribe",
    "vapid": "django_push:webpush-vapid-public-key",
    "engagement": "django_push:engagement",
}


def push_urls() -> dict[str, str]:
    """The API and service worker URLs, reversed so they follow wherever the site includes them."""
    urls = {key: reverse(name) for key, name in API_NAMES.items()}
    worker = reverse("django_push_web:service-worker")
    query = {"vapid": urls["vapid"], "resubscribe": urls["resubscribe"], "engagement": urls["engagement"]}
    urls["worker"] = f"{worker}?{urlencode(query)}"
    return urls


@register.simple_tag(takes_context=True)
def push_scripts(context: template.Context, scope: str = "/", application: str = "") -> str:
    """The subscribe helper, configured. The CSRF token is passed in the tag (and its cookie set), so
    the helper's POSTs work on pages without a form and on sites with CSRF_COOKIE_HTTPONLY."""
    urls = push_urls()
    request = context.get("request")
    token = get_token(request) if request is not None else ""
    return format_html(
        '<script src="{}" data-service-worker="{}" data-scope="{}" data-vapid-key-url="{}" '
        'data-subscribe-url="{}" data-unsubscribe-url="{}" data-csrf-cookie="{}" data-csrf-token="{}" '
        'data-application="{}" defer></script>',
        static("django_push/push.js"),
        urls["worker"],
        scope,
        urls["vapid"],
        urls["subscribe"],
        urls["unsubscribe"],
        settings.CSRF_COOKIE_NAME,
        token,
        application,
    )


@register.simple_tag
def push_subscribe_button(
    label_off: str = "Turn on notifications", label_on: str = "Turn off notifications", css_class: str = ""
) -> str:
    return format_html(
        '<button type="button" class="{}" data-django-push-toggle data-label-on="{}" data-label-off="{}" '
        'aria-pressed="false">{}</button>',
        css_class,
        label_on,
        label_off,
        label_off,
    )
