"""Per-language titles and bodies, the ``MESSAGE_RENDERER`` ``"django_push.compose.rendering.render"``.

Texts are rendered once per *language*, not per device. When a notification is sent by a rule or
:func:`django_push.compose.send.send`, its title and body templates are rendered with Django's
translation machinery (``translation.override(language)``: ``{% translate %}``, ``gettext_lazy``
strings and per-language templates all work) for every language among the recipients' devices, and
stored in ``Notification.options["i18n"]``. At send time :func:`render` picks each device's language
from its ``locale``; a notification without stored texts (an admin broadcast) has its title and body
passed through ``gettext`` in that language, so strings in the site's catalogs are translated too.

:func:`render` returns one message object per (notification, language), so dispatch keeps devices
that share a language in one backend batch. APNs ``loc-key``/``loc-args`` and FCM
``title_loc_key``/``body_loc_key`` (message options) pass through unchanged, for apps that localize
on the device.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.template import Context, Engine
from django.utils import translation
from django.utils.functional import Promise

from django_push.compose import types as notification_types

if TYPE_CHECKING:
    from django_push.message import PushMessage
    from django_push.models import Device, Notification

I18N_OPTION = "i18n"
_CACHE = "_django_push_rendered"


def language_for(locale: str | None) -> str:
    """The site language for a device locale (BCP 47 or POSIX): ``"fr-CA"`` → ``"fr"``; unknown or
    empty → the default language."""
    code = (locale or "").replace("_", "-").lower()
    if code:
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            pass
    return default_language()


def default_language() -> str:
    try:
        return translation.get_supported_language_variant(settings.LANGUAGE_CODE)
    except LookupError:
        return settings.LANGUAGE_CODE


def languages_for(audience: dict[str, Any]) -> list[str]:
    """The default language plus the languages of the audience's active devices (one query)."""
    from django_push.dispatch.audience import devices_for

    locales = devices_for(audience).order_by().values_list("locale", flat=True).distinct()
    return sorted({default_language(), *(language_for(locale) for locale in locales)})


def render_texts(
    title: Any,
    body: Any,
    context: Mapping[str, Any],
    languages: Sequence[str],
) -> dict[str, dict[str, str]]:
    """``{language: {"title": …, "body": …}}``, each rendered under ``translation.override``."""
    texts = {}
    for language in dict.fromkeys([default_language(), *languages]):
        with translation.override(language):
            texts[language] = {
                "title": render_text(title, language, context),
                "body": render_text(body, language, context),
            }
    return texts


def render_text(value: Any, language: str, context: Mapping[str, Any]) -> str:
    """One text in the active language: a callable (no arguments), a ``{language: template}`` dict,
    or a template string (possibly lazy, so translated first) rendered with ``context``, unescaped:
    push texts are plain text, not HTML."""
    if value is None:
        return ""
    if callable(value) and not isinstance(value, str | Promise):
        return str(value() or "")
    if isinstance(value, Mapping):
        value = _pick(value, language)
    text = str(value)
    if "{" not in text:
        return text
    template = Engine.get_default().from_string(text)
    return template.render(Context(dict(context), autoescape=False))


def _pick(templates: Mapping[str, Any], language: str) -> Any:
    for key in (language, language.split("-")[0], default_language(), default_language().split("-")[0]):
        if key in templates:
            return templates[key]
    return next(iter(templates.values()), "")


def render(notification: Notification, device: Device) -> PushMessage:
    """The MESSAGE_RENDERER: ``notification`` in ``device``'s language, one object per language."""
    cache: dict[str, PushMessage] = notification.__dict__.setdefault(_CACHE, {})
    locale = device.locale or ""
    message = cache.get(f"locale:{locale}")
    if message is None:
        language = language_for(locale)
        message = cache.get(language)
        if message is None:
            message = cache[language] = build(notification, language)
        cache[f"locale:{locale}"] = message
    return message


def build(notification: Notification, language: str) -> PushMessage:
    """The message for one language, with the type's TTL and collapse key where it sets none."""
    base = notification.to_message()
    stored = (notification.options or {}).get(I18N_OPTION) or {}
    entry = stored.get(language) or stored.get(language.split("-")[0])
    changes: dict[str, Any] = {}
    if isinstance(entry, Mapping):
        changes["title"] = str(entry.get("title", base.title))
        changes["body"] = str(entry.get("body", base.body))
    elif not stored:
        with translation.override(language):
            changes["title"] = translation.gettext(base.title) if base.title else ""
            changes["body"] = translation.gettext(base.body) if base.body else ""
    kind = notification_types.lookup(notification.notification_type)
    if kind is not None:
        if base.ttl is None and kind.ttl is not None:
            changes["ttl"] = kind.ttl
        if not base.collapse_key and kind.collapse_key:
            changes["collapse_key"] = kind.collapse_key
    return dataclasses.replace(base, **changes) if changes else base
