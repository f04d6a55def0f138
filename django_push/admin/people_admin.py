"""Admin pages for what users set and receive: inbox items, notification preferences, quiet hours.

Inbox items are records written by django_push (read-only here, deletable); preferences and quiet
hours are the user's settings, editable by staff helping them, checked with the model's own rules.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from django_push.models import InboxItem, NotificationPreference, QuietHours


@admin.register(InboxItem)
class InboxItemAdmin(admin.ModelAdmin):
    list_display = ("__str__", "user", "notification_type", "created_at", "read_at")
    list_filter = ("notification_type", ("read_at", admin.EmptyFieldListFilter), "created_at")
    list_select_related = ("user",)
    search_fields = ("title", "body", "notification_type")
    raw_id_fields = ("user", "notification")
    date_hierarchy = "created_at"
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    list_display = ("user", "notification_type", "push", "in_app", "updated_at")
    list_filter = ("notification_type", "push", "in_app")
    list_select_related = ("user",)
    raw_id_fields = ("user",)


@admin.register(QuietHours)
class QuietHoursAdmin(admin.ModelAdmin):
    list_display = ("user", "enabled", "start", "end", "time_zone", "updated_at")
    list_filter = ("enabled",)
    list_select_related = ("user",)
    raw_id_fields = ("user",)
