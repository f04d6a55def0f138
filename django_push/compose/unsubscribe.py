"""Unsubscribe links: a signed, salted, expiring token that switches one preference off without login.

The token names (user, notification type, channel); it is signed with ``SECRET_KEY`` under its own
salt (a token from elsewhere in the site never validates here) and expires after
``DJANGO_PUSH["UNSUBSCRIBE_MAX_AGE"]`` seconds. The e-mail carries it in ``List-Unsubscribe`` with
``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (RFC 8058), so a mail client can unsubscribe
with one POST; a person opening the link gets a confirmation page first (GET never changes anything:
link scanners follow GETs).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core import signing
from django.urls import NoReverseMatch, reverse

from django_push.compose.types import lookup
from django_push.conf import push_settings
from django_push.models import NotificationPreference
from django_push.models.preferences import PREFERENCE_CHANNELS

SALT = "django_push.unsubscribe"
URL_NAME = "django_push_web:unsubscribe"


@dataclass(frozen=True)
class Unsubscribe:
    user_id: int
    notification_type: str
    channel: str


def make_token(user_id: int, notification_type: str, channel: str) -> str:
    return signing.dumps([user_id, notification_type, channel], salt=SALT, compress=True)


def read_token(token: str) -> Unsubscribe:
    """The request a token stands for; raises ``signing.BadSignature`` (``SignatureExpired`` is one)
    for a forged, altered or expired token, ValueError for a well-signed one that makes no sense."""
    value = signing.loads(token, salt=SALT, max_age=push_settings.UNSUBSCRIBE_MAX_AGE)
    if not (isinstance(value, list) and len(value) == 3 and isinstance(value[0], int)):
        raise ValueError("not an unsubscribe token")
    user_id, notification_type, channel = value
    if channel not in PREFERENCE_CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    return Unsubscribe(user_id, str(notification_type), str(channel))


def url(user_id: int, notification_type: str, channel: str) -> str:
    """The absolute unsubscribe URL (``SITE_URL`` + the view's path), or "" when the site does not
    route ``django_push.web_urls`` (no link is better than a broken one)."""
    try:
        path = reverse(URL_NAME, args=[make_token(user_id, notification_type, channel)])
    except NoReverseMatch:
        return ""
    return f"{str(push_settings.SITE_URL).rstrip('/')}{path}"


def unsubscribe(request: Unsubscribe) -> bool:
    """Switch the preference off; False when the type is required (it cannot be turned off)."""
    kind = lookup(request.notification_type)
    if kind is not None and kind.required:
        return False
    NotificationPreference.objects.update_or_create(
        user_id=request.user_id,
        notification_type=request.notification_type,
        defaults={request.channel: False},
    )
    return True
