"""The broadcast composer: compose → preview → confirm → send (now or at a chosen time).

Stateless: every step posts the whole form back (the preview and confirmation pages carry it in hidden
inputs) and every step validates it again, so what is sent is exactly what was last checked: payload
sizes against each service's limit included. Needs the ``django_push.send_broadcast`` permission for
every request (403 otherwise); sending goes through :func:`django_push.dispatch.notify`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.admin import helpers
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from django_push import dispatch
from django_push.admin import looks, preview
from django_push.admin import reach as reach_mod
from django_push.admin.forms import BroadcastForm
from django_push.admin.notification_actions import forbidden
from django_push.conf import PUSH_PLATFORMS
from django_push.dispatch import audience as audience_mod
from django_push.models import FCMDelivery, Notification

TEMPLATES = {
    "compose": "django_push/admin/broadcast/compose.html",
    "preview": "django_push/admin/broadcast/preview.html",
    "confirm": "django_push/admin/broadcast/confirm.html",
}


def compose_view(model_admin: Any) -> Callable[[HttpRequest], HttpResponse]:
    def view(request: HttpRequest) -> HttpResponse:
        if not model_admin.has_broadcast_permission(request):
            return forbidden(request, model_admin)
        if request.method != "POST":
            return _render(request, model_admin, "compose", BroadcastForm(initial=_initial(request)))
        form = BroadcastForm(request.POST)
        if "_edit" in request.POST or not form.is_valid():
            return _render(request, model_admin, "compose", form)
        spec = form.cleaned_data["audience"]
        message = form.cleaned_data["message"]
        reach = _reach(spec)
        previews = preview.render_all(
            message, spec.get("platforms") or list(PUSH_PLATFORMS), spec.get("applications")
        )
        for item in previews:
            item.devices = reach["by_platform"].get(item.platform, 0)
            if not item.ok:
                form.add_error(None, item.problem)
        extra = {
            "previews": previews,
            "looks": looks.render_all(message),
            "reach": reach,
            "audience_summary": reach_mod.sentence(spec),
        }
        if form.errors:
            return _render(request, model_admin, "compose", form, extra)
        if "_send" in request.POST:
            return _send(request, model_admin, form, reach["total"])
        step = "confirm" if "_confirm" in request.POST else "preview"
        return _render(request, model_admin, step, form, extra)

    return view


def _initial(request: HttpRequest) -> dict[str, Any]:
    """The composer prefilled from ``?draft=<id>`` ("Duplicate as draft"): the message, and the
    audience split back into the composer's fields (anything else stays in the audience JSON)."""
    draft_id = request.GET.get("draft", "")
    draft = Notification.objects.filter(pk=int(draft_id)).first() if draft_id.isdigit() else None
    if draft is None:
        return {}
    audience = dict(draft.audience or {})
    initial: dict[str, Any] = {
        name: getattr(draft, name)
        for name in ("title", "body", "data", "priority", "ttl", "collapse_key", "push_type", "overrides")
    }
    initial["everyone"] = bool(audience.pop("all", False))
    initial["topics"] = audience.pop("topics", [])
    initial["users"] = ", ".join(str(u) for u in audience.pop("users", []))
    initial["platforms"] = audience.pop("platforms", [])
    initial["applications"] = audience.pop("applications", [])
    initial["audience_json"] = audience
    return initial


def _reach(spec: dict[str, Any]) -> dict[str, Any]:
    devices = audience_mod.devices_for(spec)
    by_platform = dict(devices.values_list("platform").annotate(n=Count("id")).order_by())
    return {"total": sum(by_platform.values()), "by_platform": by_platform}


def _send(request: HttpRequest, model_admin: Any, form: BroadcastForm, reach: int) -> HttpResponse:
    scheduled_at = form.cleaned_data["scheduled_at"]
    notification = dispatch.notify(
        audience=form.cleaned_data["audience"],
        message=form.cleaned_data["message"],
        created_by=request.user,
        scheduled_at=scheduled_at,
        notification_type="broadcast",
        fcm_delivery=form.cleaned_data.get("fcm_delivery") or FCMDelivery.PER_DEVICE,
    )
    values = {"title": str(notification), "count": reach}
    if scheduled_at is not None:
        values["when"] = formats.date_format(timezone.localtime(scheduled_at), "DATETIME_FORMAT")
        text = ngettext(
            "Scheduled “%(title)s” for %(when)s; it would reach %(count)d device now.",
            "Scheduled “%(title)s” for %(when)s; it would reach %(count)d devices now.",
            reach,
        )
    else:
        text = ngettext(
            "Sending “%(title)s” to %(count)d device.", "Sending “%(title)s” to %(count)d devices.", reach
        )
    model_admin.message_user(request, text % values, messages.SUCCESS)
    opts = Notification._meta
    url = reverse(
        f"admin:{opts.app_label}_{opts.model_name}_change",
        args=[notification.pk],
        current_app=model_admin.admin_site.name,
    )
    return HttpResponseRedirect(url)


def _render(
    request: HttpRequest,
    model_admin: Any,
    step: str,
    form: BroadcastForm,
    extra: dict[str, Any] | None = None,
) -> TemplateResponse:
    opts = Notification._meta
    titles = {
        "compose": _("Compose broadcast"),
        "preview": _("Preview broadcast"),
        "confirm": _("Confirm broadcast"),
    }
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": opts,
        "app_label": opts.app_label,
        "title": titles[step],
        "step": step,
        "form": form,
        "adminform": helpers.AdminForm(form, form.fieldsets, {}),  # type: ignore[arg-type]
        "errors": helpers.AdminErrorList(form, []),  # type: ignore[arg-type]
        "media": model_admin.media + form.media,
        "message": form.cleaned_data.get("message")
        if form.is_bound and hasattr(form, "cleaned_data")
        else None,
        "scheduled_at": form.cleaned_data.get("scheduled_at") if hasattr(form, "cleaned_data") else None,
        **(extra or {}),
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, TEMPLATES[step], context)
