"""E-mail rendering, the ``EMAIL_RENDERER`` ``"django_push.compose.email.render"``.

Dispatch calls :func:`render` for every e-mail address of a chunk; it returns the notification's
message with ``overrides["email"]`` holding what the e-mail backend sends: ``subject``, ``text``,
``html`` and ``headers`` (``List-Unsubscribe`` and, RFC 8058, ``List-Unsubscribe-Post``). Everything
that needs the database happens here, never in the backend.

Templates, in the recipient's language (``translation.override``: ``{% translate %}`` works), the
first that exists of::

    django_push/email/<type>/subject.txt   body.txt   body.html
    django_push/email/default/subject.txt  body.txt   body.html
    django_push/email/digest/…             (a digest: the items still unread)

A site overrides any of them by putting a template with the same name earlier in its template dirs.
Context: ``title``, ``body``, ``url``, ``data``, ``notification``, ``notification_type`` (the type
object or None), ``type_label``, ``user``, ``items`` (a digest's inbox items, each with ``title`` and
``body`` in the language), ``unsubscribe_url`` and ``language``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from django.contrib.auth import get_user_model
from django.template import TemplateDoesNotExist
from django.template.loader import select_template
from django.utils import translation
from django.utils.functional import SimpleLazyObject

from django_push.compose import rendering, unsubscribe
from django_push.compose.types import EMAIL, lookup
from django_push.conf import push_settings
from django_push.dispatch.steps import DIGEST_OPTION, digest_items
from django_push.message import PushMessage
from django_push.models import Device, Notification, ScheduledStep

ONE_CLICK = "List-Unsubscribe=One-Click"


def render(notification: Notification, device: Device) -> PushMessage:
    """``notification`` as an e-mail to ``device`` (an ``email`` address) in its owner's language."""
    language = rendering.language_for(device.locale)
    base = rendering.build(notification, language)
    kind = lookup(notification.notification_type)
    owner_id = device.owner_id
    # Fetched only if a template uses it (the default ones do not): no query per address otherwise.
    user = (
        SimpleLazyObject(lambda: get_user_model().objects.filter(pk=owner_id).first()) if owner_id else None
    )
    step_id = (notification.options or {}).get(DIGEST_OPTION)
    step = ScheduledStep.objects.filter(pk=step_id).first() if step_id else None
    items = [_item(i, language) for i in digest_items(step)] if step is not None else []
    link = ""
    if owner_id is not None and notification.notification_type and not (kind and kind.required):
        link = unsubscribe.url(owner_id, notification.notification_type, EMAIL)
    context = {
        "title": base.title,
        "body": base.body,
        "url": base.url,
        "data": base.data,
        "notification": notification,
        "notification_type": kind,
        "type_label": str(kind.label) if kind is not None else "",
        "user": user,
        "items": items,
        "unsubscribe_url": link,
        "language": language,
    }
    folder = "digest" if step is not None else (notification.notification_type or "default")
    with translation.override(language):
        subject = " ".join(_render(folder, "subject.txt", context).split())
        text = _render(folder, "body.txt", context)
        html = _render(folder, "body.html", context, required=False)
    email = {"subject": subject[:255], "text": text, "html": html, "headers": headers(link)}
    overrides = {**base.overrides, EMAIL: {**base.overrides.get(EMAIL, {}), **email}}
    return dataclasses.replace(base, title=subject[:255], overrides=overrides)


def headers(link: str) -> dict[str, str]:
    """``List-Unsubscribe`` (URL, plus ``UNSUBSCRIBE_MAILTO`` when set) and RFC 8058's one-click
    ``List-Unsubscribe-Post``, which is only valid next to an https/http URL."""
    parts = [f"<{link}>"] if link else []
    mailto = push_settings.UNSUBSCRIBE_MAILTO
    if mailto:
        parts.append(f"<mailto:{mailto}?subject=unsubscribe>")
    found = {"List-Unsubscribe": ", ".join(parts)} if parts else {}
    if link:
        found["List-Unsubscribe-Post"] = ONE_CLICK
    return found


def _item(item: Any, language: str) -> dict[str, Any]:
    title, body = item.text(language)
    return {"title": title, "body": body, "created_at": item.created_at, "data": item.data}


def _render(folder: str, name: str, context: dict[str, Any], *, required: bool = True) -> str:
    names = [f"django_push/email/{folder}/{name}", f"django_push/email/default/{name}"]
    try:
        template = select_template(names)
    except TemplateDoesNotExist:
        if required:
            raise
        return ""
    return template.render(context).strip() + ("\n" if name.endswith(".txt") else "")
