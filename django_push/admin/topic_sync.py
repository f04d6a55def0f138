"""The FCM topic-sync ledger in the admin: what is pending or failed, and why; tokens stay masked."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from django_push.dispatch import topic_sync
from django_push.models import FCMTopicChange


@admin.register(FCMTopicChange)
class FCMTopicChangeAdmin(admin.ModelAdmin):
    list_display = (
        "topic",
        "application",
        "token",
        "action",
        "status",
        "attempts",
        "next_attempt_at",
        "error_code",
    )
    list_filter = ("status", "action", "topic", "application")
    search_fields = ("topic", "error_code")
    fields = (
        "topic",
        "application",
        "token",
        "action",
        "status",
        "attempts",
        "next_attempt_at",
        "error_code",
        "reason",
    )
    readonly_fields = fields
    actions = ("retry_now",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # changes come from subscriptions, never by hand

    def has_change_permission(self, request: HttpRequest, obj: FCMTopicChange | None = None) -> bool:
        return False

    @admin.display(description=_("FCM token"))
    def token(self, obj: FCMTopicChange) -> str:
        a = obj.address
        return a if len(a) <= 12 else f"{a[:6]}…{a[-4:]}"

    @admin.action(description=_("Retry the selected changes now"), permissions=["view"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet[FCMTopicChange]) -> None:
        count = topic_sync.retry(queryset)
        self.message_user(
            request,
            ngettext("%(n)d change queued for FCM again.", "%(n)d changes queued for FCM again.", count)
            % {"n": count},
            messages.SUCCESS,
        )
