"""Admin pages for what users set and receive: inbox items, notification preferences, quiet hours.

Read-only: inbox items are records written by django_push, and preferences and quiet hours are the
user's own settings, changed through the API's services (which validate them); the admin, like every
entry point, writes nothing of its own. Staff see them here and on the user's push page.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from django_push.models import InboxItem, NotificationPreference, QuietHours


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(InboxItem)
class InboxItemAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "user", "notification_type", "created_at", "read_at")
    list_filter = ("notification_type", ("read_at", admin.EmptyFieldListFilter), "created_at")
    list_select_related = ("user",)
    search_fields = ("title", "body", "notification_type")
    raw_id_fields = ("user", "notification")
    date_hierarchy = "created_at"
    show_full_result_count = False


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(ReadOnlyAdmin):
    list_display = ("user", "notification_type", "push", "in_app", "updated_at")
    list_filter = ("notification_type", "push", "in_app")
    list_select_related = ("user",)
    raw_id_fields = ("user",)


@admin.register(QuietHours)
class QuietHoursAdmin(ReadOnlyAdmin):
    list_display = ("user", "enabled", "start", "end", "time_zone", "updated_at")
    list_filter = ("enabled",)
    list_select_related = ("user",)
    raw_id_fields = ("user",)
