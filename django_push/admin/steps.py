"""Scheduled steps (escalations and digests), read-only: what is pending, what fired, what was
cancelled because its condition was met. They are written by dispatch only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from django_push.models import ScheduledStep


@admin.register(ScheduledStep)
class ScheduledStepAdmin(admin.ModelAdmin):
    list_display = (
        "kind",
        "notification_type",
        "channel",
        "unless",
        "due_at",
        "status",
        "notification",
        "user",
    )
    list_filter = ("kind", "status", "channel", "notification_type")
    date_hierarchy = "due_at"
    raw_id_fields = ("notification", "user", "result")
    list_select_related = ("notification", "user")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
