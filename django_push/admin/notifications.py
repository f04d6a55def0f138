"""Notification admin (status, audience, counters, progress, retry and cancel) and a read-only
Delivery admin. Notifications are records: they are composed in the broadcast composer or created by
code, never edited here."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from django_push import dispatch
from django_push.admin import dashboard, display, notification_actions, reach, views
from django_push.admin.broadcast import compose_view
from django_push.admin.notification_actions import CANCELLABLE
from django_push.dispatch.sweep import RETRYABLE_NOTIFICATIONS
from django_push.models import Delivery, Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    # The progress bar right after the status and the counters in one compact cell: at 1280 px with
    # the sidebar open, the columns that scroll out of view are the dates, not the outcome.
    list_display = (
        "__str__",
        "status",
        "progress_column",
        "counters_column",
        "open_rate_column",
        "audience_summary",
        "created_at",
        "scheduled_at",
        "created_by",
    )
    list_filter = ("status", "priority", "notification_type", "created_at")
    list_select_related = ("created_by",)
    search_fields = ("title", "body", "notification_type")
    date_hierarchy = "created_at"
    actions = ("retry_failed", "cancel")
    change_list_template = "django_push/admin/notification/change_list.html"
    change_form_template = "django_push/admin/notification/change_form.html"
    fieldsets = (
        (None, {"fields": ("title", "body", "data", "audience_display", "audience")}),
        (
            _("Delivery"),
            {
                "fields": (
                    "priority",
                    "ttl",
                    "collapse_key",
                    "push_type",
                    "overrides",
                    "options",
                    "fcm_delivery",
                    "fcm_topic_result",
                )
            },
        ),
        # Status, counters and the finish time are in the Progress box, which the page keeps live;
        # a second, static copy here would say "sending" next to a live "done".
        (
            _("Status"),
            {
                "fields": (
                    "notification_type",
                    "delivery_policy",
                    "created_by",
                    "created_at",
                    "scheduled_at",
                    "started_at",
                    "planned_at",
                )
            },
        ),
    )
    readonly_fields = ("audience_display",)

    class Media:
        css = {"all": ("django_push/admin/admin.css",)}
        js = ("django_push/admin/progress.js",)

    # -- permissions: a record, viewed and acted on, never edited -----------------------------------
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # the broadcast composer creates notifications (and checks send_broadcast)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_broadcast_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("django_push.send_broadcast")

    # -- list columns ------------------------------------------------------------------------------
    @admin.display(description=_("audience"))
    def audience_summary(self, obj: Notification) -> str:
        return display.audience_summary(obj.audience)

    @admin.display(description=_("who receives it"))
    def audience_display(self, obj: Notification) -> str:
        return display.audience_summary(obj.audience)

    @admin.display(description=_("outcomes"), ordering="targeted")
    def counters_column(self, obj: Notification) -> str:
        """One compact cell instead of six columns, so the progress bar fits at 1280 px."""
        return display.counters_cell(obj)

    @admin.display(description=_("open rate"))
    def open_rate_column(self, obj: Notification) -> str:
        return display.open_rate(obj)

    @admin.display(description=_("progress"))
    def progress_column(self, obj: Notification) -> str:
        return display.progress_bar(obj, small=True)

    # -- pages -------------------------------------------------------------------------------------
    def get_urls(self) -> list[Any]:
        info = self.opts.app_label, self.opts.model_name
        wrap = self.admin_site.admin_view
        return [
            path("compose/", wrap(compose_view(self)), name="{}_{}_compose".format(*info)),
            path("compose/reach/", wrap(reach.reach_view(self)), name="{}_{}_compose_reach".format(*info)),
            path("dashboard/", wrap(dashboard.dashboard_view(self)), name="{}_{}_dashboard".format(*info)),
            path(
                "<path:object_id>/progress/",
                wrap(views.progress_view(self)),
                name="{}_{}_progress".format(*info),
            ),
            *(
                path(
                    f"<path:object_id>/{name}/",
                    wrap(notification_actions.action_view(self, name)),
                    name="{}_{}_{}".format(*info, name),
                )
                for name in notification_actions.ACTIONS
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        extra = {"can_broadcast": self.has_broadcast_permission(request), **(extra_context or {})}
        return super().changelist_view(request, extra)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        obj = self.get_object(request, unquote(object_id))
        extra = dict(extra_context or {})
        if obj is not None and self.has_view_permission(request, obj):
            extra.update(views.detail_context(request, obj))
            extra["push_buttons"] = notification_actions.buttons(request, self, obj)
        return super().change_view(request, object_id, form_url, extra)

    # -- actions -----------------------------------------------------------------------------------
    @admin.action(description=_("Retry failed deliveries"), permissions=["broadcast"])
    def retry_failed(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        reset_total = notified = 0
        for pk in queryset.filter(status__in=RETRYABLE_NOTIFICATIONS).values_list("pk", flat=True):
            reset = dispatch.retry_failed(pk)
            if reset:
                reset_total += reset
                notified += 1
        if not reset_total:
            self.message_user(request, _("No failed deliveries to retry."), messages.WARNING)
            return
        self.message_user(
            request,
            ngettext(
                "Retrying %(count)d delivery of %(notifications)d notification.",
                "Retrying %(count)d deliveries of %(notifications)d notification(s).",
                reset_total,
            )
            % {"count": reset_total, "notifications": notified},
            messages.SUCCESS,
        )

    @admin.action(description=_("Cancel"), permissions=["broadcast"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        selected = queryset.count()
        cancelled = sum(
            1 for notification in queryset.filter(status__in=CANCELLABLE) if dispatch.cancel(notification)
        )
        self.message_user(
            request,
            ngettext("Cancelled %(count)d notification.", "Cancelled %(count)d notifications.", cancelled)
            % {"count": cancelled},
            messages.SUCCESS if cancelled else messages.WARNING,
        )
        if selected > cancelled:
            rest = selected - cancelled
            self.message_user(
                request,
                ngettext(
                    "%(count)d notification had already finished and was left alone.",
                    "%(count)d notifications had already finished and were left alone.",
                    rest,
                )
                % {"count": rest},
                messages.WARNING,
            )


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    """Read-only: one row per (notification, device), written by dispatch only."""

    list_display = (
        "notification",
        "device_masked",
        "platform",
        "status",
        "error_code",
        "attempts",
        "ambiguous_retry",
        "sent_at",
        "updated_at",
    )
    list_filter = ("status", "platform", "ambiguous_retry", "created_at")
    list_select_related = ("notification", "device")
    search_fields = ("=notification__id", "error_code", "reason")
    raw_id_fields = ("notification", "device")
    show_full_result_count = False
    readonly_fields = ("device_masked",)
    fields = (
        "notification",
        "device_masked",
        "platform",
        "status",
        "attempts",
        "message_id",
        "error_code",
        "reason",
        "ambiguous_retry",
        "next_attempt_at",
        "created_at",
        "updated_at",
        "sent_at",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Delivery]:
        return super().get_queryset(request).defer("device__p256dh", "device__auth")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("device"), ordering="device_id")
    def device_masked(self, obj: Delivery) -> str:
        return obj.device.masked_address
