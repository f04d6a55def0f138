"""Device admin: health at a glance, masked addresses, and "Send test push…", activate, deactivate.

A push address (and a Web Push subscription's keys) is a credential for the device, so the admin never
renders ``address``, ``p256dh`` or ``auth``: not in the list, the change form, search, or log messages.
Only :attr:`Device.masked_address` is shown.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from django_push import dispatch
from django_push.admin import people
from django_push.admin.forms import DeviceAdminForm, TestPushForm
from django_push.admin.live_activities import end_activities
from django_push.devices import lifecycle
from django_push.models import Delivery, Device, Subscription
from django_push.results import DeliveryStatus

#: A test push is sent synchronously, in the request: keep the selection small.
TEST_PUSH_LIMIT = 100


class HealthFilter(admin.SimpleListFilter):
    title = _("health")
    parameter_name = "health"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [
            ("ok", _("healthy (no failures)")),
            ("failing", _("failing")),
            ("never", _("never delivered")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Device]) -> QuerySet[Device]:
        if self.value() == "ok":
            return queryset.filter(failure_count=0, last_success_at__isnull=False)
        if self.value() == "failing":
            return queryset.filter(failure_count__gt=0)
        if self.value() == "never":
            return queryset.filter(last_success_at__isnull=True)
        return queryset


class SubscriptionInline(admin.TabularInline):
    model = Subscription
    fields = ("topic", "created_at")
    readonly_fields = ("created_at",)
    extra = 0


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    form = DeviceAdminForm
    # Health (active, failures in a row, last success) in one compact cell next to the address, so it
    # stays in view at 1280 px with the sidebar open; the less telling columns come last.
    list_display = (
        "masked",
        "platform",
        "kind",
        "health_column",
        "owner_link",
        "name",
        "application",
        "environment",
    )
    list_filter = (
        "platform",
        "kind",
        "application",
        "environment",
        "active",
        HealthFilter,
        "last_success_at",
    )
    list_select_related = ("owner",)
    raw_id_fields = ("owner",)
    date_hierarchy = "created_at"
    inlines = (SubscriptionInline,)
    actions = ("send_test_push", "activate", "deactivate", end_activities)
    readonly_fields = (
        "masked",
        "platform",
        "kind",
        "activity_type",
        "activity_id",
        "installation",
        "application",
        "has_keys",
        "user_agent",
        "public_id",
        "last_success_at",
        "failure_count",
        "last_failure_reason",
        "deactivated_at",
        "deactivation_reason",
        "created_at",
        "registered_at",
        "last_seen_at",
        "updated_at",
    )

    def get_urls(self) -> list[Any]:
        info = self.opts.app_label, self.opts.model_name
        wrap = self.admin_site.admin_view
        return [
            path("user/<int:user_id>/", wrap(people.user_view(self)), name="{}_{}_user".format(*info)),
            path(
                "user/<int:user_id>/test/",
                wrap(people.test_push_view(self)),
                name="{}_{}_user_test".format(*info),
            ),
            *super().get_urls(),
        ]

    @admin.display(description=_("health"), ordering="failure_count")
    def health_column(self, obj: Device) -> str:
        """ "healthy · 2 Dec 14:05", "failing (3 failures in a row)", "inactive: Unregistered"."""
        key, label = people.health(obj)
        when = (
            formats.date_format(timezone.localtime(obj.last_success_at), "SHORT_DATETIME_FORMAT")
            if obj.last_success_at
            else ""
        )
        return format_html(
            '<span class="dp-health dp-health-{}" title="{}">{}</span>{}',
            key,
            _("last success: %(when)s") % {"when": when or "–"},
            label,
            format_html(' <span class="dp-muted">{}</span>', when) if key == "ok" else "",
        )

    @admin.display(description=_("owner"), ordering="owner")
    def owner_link(self, obj: Device) -> str:
        """The owner, linked to their push page (devices, deliveries, preferences, inbox)."""
        if obj.owner_id is None:
            return "–"
        return format_html(
            '<a href="{}">{}</a>', people.user_url(obj.owner_id, self.admin_site.name), obj.owner
        )

    def get_fieldsets(self, request: HttpRequest, obj: Device | None = None) -> Any:
        # The address, p256dh and auth are never form fields; only Web Push subscriptions have keys.
        keys = ("has_keys",) if obj is None or obj.platform == "webpush" else ()
        return (
            (
                None,
                {"fields": ("masked", "platform", "application", "environment", "owner", "name", "active")},
            ),
            (_("Client"), {"fields": (*keys, "user_agent", "locale", "time_zone", "public_id")}),
            (_("Live Activity"), {"fields": ("kind", "activity_type", "activity_id", "installation")}),
            (
                _("Health"),
                {
                    "fields": (
                        "last_success_at",
                        "failure_count",
                        "last_failure_reason",
                        "deactivated_at",
                        "deactivation_reason",
                    )
                },
            ),
            (_("Dates"), {"fields": ("created_at", "registered_at", "last_seen_at", "updated_at")}),
        )

    def get_search_fields(self, request: HttpRequest) -> tuple[str, ...]:
        # Owner and name only: the push address is a credential, never a search key.
        return (f"owner__{get_user_model().USERNAME_FIELD}", "name")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # devices register themselves (API, subscribe helper); an address is never typed in

    @admin.display(description=_("push address"), ordering="id")
    def masked(self, obj: Device) -> str:
        return obj.masked_address

    @admin.display(description=_("subscription keys"), boolean=True)
    def has_keys(self, obj: Device) -> bool | None:
        return bool(obj.p256dh and obj.auth) if obj.platform == "webpush" else None

    # -- actions ---------------------------------------------------------------------------------
    @admin.action(description=_("Activate selected devices"), permissions=["change"])
    def activate(self, request: HttpRequest, queryset: QuerySet[Device]) -> None:
        count = lifecycle.activate(queryset)
        self.message_user(
            request,
            ngettext("Activated %(count)d device.", "Activated %(count)d devices.", count) % {"count": count},
            messages.SUCCESS,
        )

    @admin.action(description=_("Deactivate selected devices"), permissions=["change"])
    def deactivate(self, request: HttpRequest, queryset: QuerySet[Device]) -> None:
        count = lifecycle.deactivate(queryset, f"deactivated in the admin by {request.user.get_username()}")
        self.message_user(
            request,
            ngettext("Deactivated %(count)d device.", "Deactivated %(count)d devices.", count)
            % {"count": count},
            messages.SUCCESS,
        )

    @admin.action(description=_("Send test push…"), permissions=["send_test"])
    def send_test_push(self, request: HttpRequest, queryset: QuerySet[Device]) -> TemplateResponse | None:
        devices = list(queryset.select_related("owner").order_by("pk")[: TEST_PUSH_LIMIT + 1])
        if len(devices) > TEST_PUSH_LIMIT:
            self.message_user(
                request,
                _("Select at most %(limit)d devices for a test push.") % {"limit": TEST_PUSH_LIMIT},
                messages.ERROR,
            )
            return None
        form = TestPushForm(request.POST if "apply" in request.POST else None)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Send test push"),
            "devices": devices,
            "form": form,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        if not form.is_bound or not form.is_valid():
            return TemplateResponse(request, "django_push/admin/device/send_test_push.html", context)
        notification = dispatch.send_message(
            form.message(), devices, created_by=request.user, notification_type="admin_test"
        )
        deliveries = {d.device_id: d for d in Delivery.objects.filter(notification=notification)}
        results = [(device, deliveries.get(device.pk)) for device in devices]
        sent = sum(1 for _device, d in results if d is not None and d.status == DeliveryStatus.SENT)
        self.message_user(
            request,
            ngettext(
                "Test push sent to %(sent)d of %(count)d selected device.",
                "Test push sent to %(sent)d of %(count)d selected devices.",
                len(devices),
            )
            % {"sent": sent, "count": len(devices)},
            messages.SUCCESS if sent == len(devices) else messages.WARNING,
        )
        context.update({"title": _("Test push results"), "notification": notification, "results": results})
        return TemplateResponse(request, "django_push/admin/device/send_test_push_result.html", context)

    def has_send_test_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("django_push.send_broadcast")
