"""Typed send: a notification of a type, to recipients, through the type's channels."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Model, QuerySet

from django_push import dispatch
from django_push.compose import inbox, rendering
from django_push.compose.types import IN_APP, PUSH, NotificationType, get
from django_push.dispatch import steps
from django_push.models import Device, InboxItem, Topic


def send(
    notification_type: str,
    *,
    to: Any,
    title: Any = "",
    body: Any = "",
    context: Mapping[str, Any] | None = None,
    data: Mapping[str, Any] | None = None,
    created_by: Any = None,
    priority: str | None = None,
    **options: Any,
) -> Any:
    """Send a notification of ``notification_type`` to ``to`` through the type's channels.

    ``to``: a user, users (a list or queryset), a Device or devices, a Topic or a topic name, or an
    audience dict. ``title``/``body``: template strings (rendered with ``context`` in each recipient
    language), lazy translatable strings, ``{language: template}`` dicts, or callables (called with
    no arguments, once per language). ``options``: message options (url, image, loc_key, loc_args …).

    Push, e-mail, SMS, webhook (the type's ``channels``): one Notification is stored, with the
    channels in its audience, and sent on transaction commit (preferences, quiet hours and rate limits
    apply through ``DELIVERY_FILTERS``). In-app: one inbox item per named user who has not turned the
    type's in-app channel off. The type's ``escalate``/``digest`` rules are scheduled alongside.
    Returns the Notification (None when the type has only the in-app channel).
    """
    kind = get(notification_type)
    audience, user_ids = recipients_audience(to)
    if audience is None:
        return None
    languages = rendering.languages_for(audience)
    texts = rendering.render_texts(title, body, context or {}, languages)
    default = texts[rendering.default_language()]
    notification = None
    channels = kind.delivery_channels
    if channels:
        if channels != [PUSH]:
            audience = {**audience, "channels": channels}
        notification = dispatch.notify(
            audience=audience,
            title=default["title"][:255],
            body=default["body"],
            data=dict(data or {}),
            notification_type=kind.name,
            priority=priority or kind.priority,
            ttl=kind.ttl,
            collapse_key=kind.collapse_key,
            delivery_policy=kind.delivery_policy,
            options={**options, rendering.I18N_OPTION: texts},
            created_by=created_by,
        )
    items: list[InboxItem] = []
    if kind.sends(IN_APP) and user_ids:
        items = inbox.store(kind, user_ids, texts, data=dict(data or {}), notification=notification)
    schedule_rules(kind, notification, user_ids, items)
    return notification


def schedule_rules(
    kind: NotificationType, notification: Any, user_ids: list[int], items: list[InboxItem]
) -> None:
    """Store the type's escalations (for a notification to named users) and open the digests of the
    users who got an inbox item: scheduled work in the ledger, run by ``send_due``."""
    if notification is not None and user_ids:
        for rule in kind.escalations:
            steps.schedule_escalation(notification, rule.to, rule.after, rule.unless)
    if items:
        since = min(item.created_at for item in items)
        users = [item.user_id for item in items]
        for digest in kind.digests:
            steps.schedule_digests(users, kind.name, digest.channel, digest.after, digest.unless, since)


def recipients_audience(to: Any) -> tuple[dict[str, Any] | None, list[int]]:
    """``(audience, user ids)`` for a recipients value; ``(None, [])`` when it names nobody."""
    if to is None:
        return None, []
    if isinstance(to, dict):
        users = [int(u) for u in to.get("users", [])]
        return (to if any(to.get(k) for k in ("all", "users", "devices", "topics")) else None), users
    if isinstance(to, str):
        return {"topics": [to]}, []
    User = get_user_model()
    if isinstance(to, QuerySet):
        if issubclass(to.model, Device):
            return _ids_audience("devices", list(to.values_list("pk", flat=True)), [])
        if issubclass(to.model, Topic):
            return _ids_audience("topics", list(to.values_list("name", flat=True)), [])
        ids = list(to.values_list("pk", flat=True))
        return _ids_audience("users", ids, ids)
    items = [to] if isinstance(to, Model) else list(to)
    users, devices, topics = [], [], []
    for item in items:
        if isinstance(item, User):
            users.append(item.pk)
        elif isinstance(item, Device):
            devices.append(item.pk)
        elif isinstance(item, Topic):
            topics.append(item.name)
        elif isinstance(item, str):
            topics.append(item)
        elif item is not None:
            raise TypeError(f"Recipients must be users, devices or topics, not {type(item).__name__}.")
    audience = {
        key: list(dict.fromkeys(values))
        for key, values in (("users", users), ("devices", devices), ("topics", topics))
        if values
    }
    return (audience or None), list(dict.fromkeys(users))


def _ids_audience(key: str, ids: list[Any], users: list[int]) -> tuple[dict[str, Any] | None, list[int]]:
    return ({key: ids} if ids else None), users
