"""Webhook endpoint admin (staff): register, edit, rotate the secret, re-enable.

A signing secret is shown once, in the message after the endpoint is created or its secret rotated;
afterwards only its last four characters are (``masked_secret``). Every change goes through the
services of :mod:`django_push.devices.webhooks`, so the URL rules (https, no private address) and
the endpoint's device stay the same as through the API.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from django_push.devices import webhooks
from django_push.models import Device, Platform, WebhookEndpoint, address_hash


class WebhookEndpointForm(forms.ModelForm):
    # A plain field: the https and address rules are validate_webhook_url's, not URLField's.
    url = forms.CharField(label=_("URL"), max_length=2048)

    class Meta:
        model = WebhookEndpoint
        fields = ("url", "owner", "description", "event_types", "active")

    def clean_url(self) -> str:
        url = webhooks.validate_webhook_url(self.cleaned_data["url"])
        taken = Device.objects.filter(platform=Platform.WEBHOOK, address_hash=address_hash(url))
        if self.instance.pk is not None:
            taken = taken.exclude(pk=self.instance.device_id)
        if taken.exists():
            raise ValidationError(_("A webhook endpoint with this URL is already registered."))
        return url

    def clean_event_types(self) -> list[str]:
        return webhooks.validate_event_types(self.cleaned_data.get("event_types") or [])


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ("url", "owner", "description", "active", "state", "consecutive_failures", "masked_secret")
    list_filter = ("active", ("disabled_at", admin.EmptyFieldListFilter))
    list_select_related = ("owner",)
    raw_id_fields = ("owner",)
    search_fields = ("url", "description")
    actions = ("rotate_secret", "reenable")
    readonly_fields = (
        "masked_secret",
        "previous_secret_expires_at",
        "consecutive_failures",
        "failing_since",
        "disabled_at",
        "disabled_reason",
        "public_id",
        "created_at",
        "updated_at",
    )

    @admin.display(description=_("signing secret"))
    def masked_secret(self, obj: WebhookEndpoint) -> str:
        return obj.masked_secret

    @admin.display(description=_("state"))
    def state(self, obj: WebhookEndpoint) -> str:
        if obj.disabled_at is not None:
            return str(_("disabled: %(reason)s") % {"reason": obj.disabled_reason})
        return str(_("enabled") if obj.active else _("switched off"))

    def save_model(self, request: HttpRequest, obj: WebhookEndpoint, form: Any, change: bool) -> None:
        data = {f: form.cleaned_data[f] for f in ("description", "event_types")}
        if change:
            webhooks.update_endpoint(obj, url=form.cleaned_data["url"], active=obj.active, **data)
            return
        endpoint, secret = webhooks.create_endpoint(url=form.cleaned_data["url"], owner=obj.owner, **data)
        if not form.cleaned_data["active"]:
            webhooks.update_endpoint(endpoint, active=False)
        obj.pk, obj.device_id, obj.secret = endpoint.pk, endpoint.device_id, endpoint.secret
        obj._state.adding = False
        self.message_user(request, self._secret_message(endpoint, secret), messages.WARNING)

    def delete_model(self, request: HttpRequest, obj: WebhookEndpoint) -> None:
        webhooks.delete_endpoints(WebhookEndpoint.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        webhooks.delete_endpoints(queryset)

    @staticmethod
    def _secret_message(endpoint: WebhookEndpoint, secret: str) -> str:
        return str(
            _("Signing secret of %(url)s: %(secret)s — copy it now; it will not be shown again.")
            % {"url": endpoint.url, "secret": secret}
        )

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        disabled = list(
            WebhookEndpoint.objects.filter(disabled_at__isnull=False).values_list("url", "disabled_reason")[
                :5
            ]
        )
        if disabled and request.method == "GET":
            self.message_user(
                request,
                _("Disabled webhook endpoints (re-enable them once they answer again): %(list)s")
                % {"list": "; ".join(f"{url} ({reason})" for url, reason in disabled)},
                messages.WARNING,
            )
        return super().changelist_view(request, extra_context)

    @admin.action(description=_("Rotate the signing secret (the old one stays valid for the overlap)"))
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            self.message_user(
                request, self._secret_message(endpoint, webhooks.rotate_secret(endpoint)), messages.WARNING
            )

    @admin.action(description=_("Re-enable selected endpoints"))
    def reenable(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        count = 0
        for endpoint in queryset:
            webhooks.enable(endpoint)
            count += 1
        self.message_user(
            request,
            ngettext("Re-enabled %(count)d endpoint.", "Re-enabled %(count)d endpoints.", count)
            % {"count": count},
            messages.SUCCESS,
        )
