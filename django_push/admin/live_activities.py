"""Live Activities in the admin: "End selected Live Activities" on devices (update tokens), and the
broadcast channels with "Delete selected channels at APNs".

Both call the services every other entry point calls (:mod:`django_push.compose.live_activities`,
:mod:`django_push.compose.broadcast_channels`) and summarize with ``message_user``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from django_push.compose import broadcast_channels, live_activities
from django_push.exceptions import ChannelError
from django_push.models import BroadcastChannel, Device, DeviceKind

#: Ending sends now, in the request: keep the selection small.
END_LIMIT = 100


@admin.action(description=_("End selected Live Activities"), permissions=["send_test"])
def end_activities(model_admin: Any, request: HttpRequest, queryset: QuerySet[Device]) -> None:
    """Send ``end`` to the selected update tokens (other kinds are left out, and said so)."""
    selected = queryset.count()
    tokens = list(
        queryset.filter(kind=DeviceKind.LIVEACTIVITY_UPDATE, active=True).order_by("pk")[: END_LIMIT + 1]
    )
    if len(tokens) > END_LIMIT:
        model_admin.message_user(
            request, _("Select at most %(limit)d activities to end.") % {"limit": END_LIMIT}, messages.ERROR
        )
        return
    if not tokens:
        model_admin.message_user(
            request,
            _("None of the selected devices is an active Live Activity update token."),
            messages.WARNING,
        )
        return
    notification = live_activities.end(devices=tokens, created_by=request.user, send_now=True)
    model_admin.message_user(
        request,
        ngettext(
            "Ended %(sent)d of %(count)d Live Activity (%(skipped)d selected were not update tokens).",
            "Ended %(sent)d of %(count)d Live Activities (%(skipped)d selected were not update tokens).",
            len(tokens),
        )
        % {"sent": notification.sent, "count": len(tokens), "skipped": selected - len(tokens)},
        messages.SUCCESS if notification.sent == len(tokens) else messages.WARNING,
    )


@admin.register(BroadcastChannel)
class BroadcastChannelAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "channel_id",
        "application",
        "environment",
        "storage_policy",
        "content_object",
        "active",
        "last_broadcast_at",
        "created_at",
    )
    list_filter = ("active", "environment", "application", "storage_policy")
    search_fields = ("name", "channel_id")
    readonly_fields = (
        "channel_id",
        "application",
        "bundle_id",
        "environment",
        "storage_policy",
        "content_type",
        "object_id",
        "active",
        "created_at",
        "deleted_at",
        "last_broadcast_at",
    )
    actions = ("delete_at_apns",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # APNs issues channel ids: create them with broadcast_channels.create_channel()

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # a row deleted here would leave the channel alive at APNs
        return actions

    @admin.action(description=_("Delete selected channels at APNs"), permissions=["change"])
    def delete_at_apns(self, request: HttpRequest, queryset: QuerySet[BroadcastChannel]) -> None:
        deleted = gone = 0
        failures: list[str] = []
        for channel in queryset.filter(active=True):
            try:
                if broadcast_channels.delete_channel(channel):
                    deleted += 1
                else:
                    gone += 1
            except ChannelError as exc:
                failures.append(f"{channel}: {exc}")
        if deleted or gone:
            self.message_user(
                request,
                ngettext(
                    "Deleted %(deleted)d channel at APNs (%(gone)d were already gone).",
                    "Deleted %(deleted)d channels at APNs (%(gone)d were already gone).",
                    deleted,
                )
                % {"deleted": deleted, "gone": gone},
                messages.SUCCESS,
            )
        for failure in failures:
            self.message_user(request, failure, messages.ERROR)
        if not (deleted or gone or failures):
            self.message_user(request, _("No active channel was selected."), messages.WARNING)
