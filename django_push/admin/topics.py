"""Topic and subscription admin, with subscriber counts computed by the database (annotations)."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from django_push.models import Subscription, Topic


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin):
    list_display = ("name", "description", "self_subscribe", "subscriber_count", "active_subscriber_count")
    list_filter = ("self_subscribe",)
    search_fields = ("name", "description")
    readonly_fields = ("created_at",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Topic]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                subscriber_total=Count("subscriptions", distinct=True),
                subscriber_active=Count(
                    "subscriptions", filter=Q(subscriptions__device__active=True), distinct=True
                ),
            )
        )

    @admin.display(description=_("subscribers"), ordering="subscriber_total")
    def subscriber_count(self, obj: Topic) -> int:
        return obj.subscriber_total  # type: ignore[attr-defined]

    @admin.display(description=_("active devices"), ordering="subscriber_active")
    def active_subscriber_count(self, obj: Topic) -> int:
        return obj.subscriber_active  # type: ignore[attr-defined]


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ("device_masked", "platform", "owner", "topic", "created_at")
    list_filter = ("topic", "device__platform", "device__active")
    list_select_related = ("device__owner", "topic")
    raw_id_fields = ("device",)
    readonly_fields = ("created_at",)
    date_hierarchy = "created_at"

    def get_search_fields(self, request: HttpRequest) -> tuple[str, ...]:
        return ("topic__name", f"device__owner__{get_user_model().USERNAME_FIELD}", "device__name")

    @admin.display(description=_("device"), ordering="device_id")
    def device_masked(self, obj: Subscription) -> str:
        return obj.device.masked_address

    @admin.display(description=_("platform"), ordering="device__platform")
    def platform(self, obj: Subscription) -> str:
        return obj.device.get_platform_display()

    @admin.display(description=_("owner"), ordering="device__owner")
    def owner(self, obj: Subscription) -> object:
        return obj.device.owner or "—"
