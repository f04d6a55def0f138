"""The in-app inbox: one row per (user, notification), read and marked read through the API.

Items are written by :func:`django_push.compose.inbox.store` (which knows types and preferences).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import ExpressionWrapper, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from django_push.models.notifications import Notification

__all__ = ["InboxItem"]


class InboxQuerySet(models.QuerySet):
    def for_user(self, user: Any) -> InboxQuerySet:
        if user is None or not getattr(user, "is_authenticated", False):
            return self.none()
        return self.filter(user=user)

    def unread(self) -> InboxQuerySet:
        return self.filter(read_at__isnull=True)

    def unread_first(self) -> InboxQuerySet:
        """Unread items first, each group newest first (the ``django_push_inbox_unread`` index)."""
        is_unread = ExpressionWrapper(Q(read_at__isnull=True), output_field=models.BooleanField())
        return self.order_by(is_unread.desc(), "-created_at", "-id")

    def mark_read(self, at: Any = None) -> int:
        """Mark the unread ones read; returns how many changed."""
        return self.filter(read_at__isnull=True).update(read_at=at or timezone.now())


InboxManager = models.Manager.from_queryset(InboxQuerySet)


class InboxItem(models.Model):
    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="push_inbox",
    )
    notification = models.ForeignKey(
        Notification,
        verbose_name=_("notification"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="inbox_items",
        help_text=_("The push sent with it, if any."),
    )
    notification_type = models.CharField(_("notification type"), max_length=64, blank=True)
    title = models.CharField(_("title"), max_length=255, blank=True)
    body = models.TextField(_("body"), blank=True)
    data = models.JSONField(_("data"), default=dict, blank=True)
    translations = models.JSONField(
        _("translations"),
        default=dict,
        blank=True,
        help_text=_('Title and body per language, e.g. {"fr": {"title": "…", "body": "…"}}.'),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)

    objects = InboxManager()

    class Meta:
        app_label = "django_push"
        verbose_name = _("inbox item")
        verbose_name_plural = _("inbox items")
        indexes = [
            models.Index(fields=["user", "read_at", "-created_at"], name="django_push_inbox_unread"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.title or self.notification_type}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None

    def text(self, language: str) -> tuple[str, str]:
        """(title, body) in ``language`` when it was rendered in it, else the default language's."""
        entry = self.translations.get(language) or self.translations.get(language.split("-")[0])
        if isinstance(entry, Mapping):
            return str(entry.get("title", self.title)), str(entry.get("body", self.body))
        return self.title, self.body
