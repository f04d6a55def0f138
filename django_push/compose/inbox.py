"""Writing the in-app inbox: one item per user, respecting each user's in-app preference."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.utils import timezone

from django_push.compose.rendering import default_language
from django_push.compose.types import NotificationType
from django_push.models import InboxItem, Notification, NotificationPreference


def store(
    kind: NotificationType,
    user_ids: Iterable[int],
    texts: Mapping[str, Mapping[str, str]],
    *,
    data: Mapping[str, Any] | None = None,
    notification: Notification | None = None,
) -> list[InboxItem]:
    """One item per user, except users who turned the type's in-app channel off (unless the
    type is required). ``texts``: ``{language: {"title", "body"}}``; the default language's
    text is stored in ``title``/``body``, all of them in ``translations``."""
    ids = list(dict.fromkeys(user_ids))
    if not kind.required:
        off = set(
            NotificationPreference.objects.filter(
                user_id__in=ids, notification_type=kind.name, in_app=False
            ).values_list("user_id", flat=True)
        )
        ids = [pk for pk in ids if pk not in off]
    default = texts.get(default_language()) or next(iter(texts.values()), {"title": "", "body": ""})
    now = timezone.now()
    items = [
        InboxItem(
            user_id=pk,
            notification=notification,
            notification_type=kind.name,
            title=default["title"][:255],
            body=default["body"],
            data=dict(data or {}),
            translations={lang: dict(t) for lang, t in texts.items()} if len(texts) > 1 else {},
            created_at=now,
        )
        for pk in ids
    ]
    return InboxItem.objects.bulk_create(items, batch_size=500)
