"""The notification page's buttons: Retry failed, Cancel, Duplicate as draft.

POST only (with the CSRF token the admin checks), permission-checked like the list actions, and
calling the same dispatch services (``retry_failed``, ``cancel``, ``duplicate``). A refusal is a 403
page naming the missing permission (:func:`forbidden`), not a bare "403 Forbidden".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.models import Permission
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from django_push import dispatch
from django_push.dispatch.sweep import RETRYABLE_NOTIFICATIONS
from django_push.models import Delivery, Notification, NotificationStatus
from django_push.results import DeliveryStatus

BROADCAST_PERMISSION = "django_push.send_broadcast"
CANCELLABLE = (
    NotificationStatus.DRAFT,
    NotificationStatus.SCHEDULED,
    NotificationStatus.QUEUED,
    NotificationStatus.SENDING,
)


def forbidden(
    request: HttpRequest, model_admin: Any, permission: str = BROADCAST_PERMISSION
) -> TemplateResponse:
    """A 403 in the admin's look that says which permission is missing and whom to ask."""
    app_label, _dot, codename = permission.partition(".")
    found = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
    context = {
        **model_admin.admin_site.each_context(request),
        "title": _("Permission needed"),
        "permission_name": found.name if found else permission,
        "permission_code": permission,
    }
    return TemplateResponse(request, "django_push/admin/forbidden.html", context, status=403)


def change_url(model_admin: Any, notification: Notification) -> str:
    opts = Notification._meta
    return reverse(
        f"admin:{opts.app_label}_{opts.model_name}_change",
        args=[notification.pk],
        current_app=model_admin.admin_site.name,
    )


def buttons(request: HttpRequest, model_admin: Any, notification: Notification) -> list[dict[str, Any]]:
    """The buttons the page shows (none without the permission), each enabled when it can act."""
    if not model_admin.has_broadcast_permission(request):
        return []
    opts = Notification._meta
    retryable = notification.status in RETRYABLE_NOTIFICATIONS and (
        Delivery.objects.filter(
            notification=notification, status__in=(DeliveryStatus.FAILED, DeliveryStatus.UNAVAILABLE)
        ).exists()
    )

    def url(name: str) -> str:
        return reverse(
            f"admin:{opts.app_label}_{opts.model_name}_{name}",
            args=[notification.pk],
            current_app=model_admin.admin_site.name,
        )

    return [
        {
            "name": "retry",
            "label": _("Retry failed"),
            "url": url("retry"),
            "enabled": retryable,
            "why": _("No failed deliveries to retry."),
        },
        {
            "name": "cancel",
            "label": _("Cancel"),
            "url": url("cancel"),
            "enabled": notification.status in CANCELLABLE,
            "why": _("It has already finished."),
        },
        {
            "name": "duplicate",
            "label": _("Duplicate as draft"),
            "url": url("duplicate"),
            "enabled": True,
            "why": "",
        },
    ]


def action_view(model_admin: Any, name: str) -> Callable[..., HttpResponse]:
    """``<id>/retry/``, ``<id>/cancel/`` or ``<id>/duplicate/``."""

    @require_POST
    def view(request: HttpRequest, object_id: str) -> HttpResponse:
        notification = model_admin.get_object(request, unquote(object_id))
        if notification is None or not model_admin.has_view_permission(request, notification):
            raise Http404
        if not model_admin.has_broadcast_permission(request):
            return forbidden(request, model_admin)
        return ACTIONS[name](request, model_admin, notification)

    return view


def _retry(request: HttpRequest, model_admin: Any, notification: Notification) -> HttpResponse:
    reset = dispatch.retry_failed(notification.pk)
    if reset:
        text = ngettext("Retrying %(count)d delivery.", "Retrying %(count)d deliveries.", reset) % {
            "count": reset
        }
        model_admin.message_user(request, text, messages.SUCCESS)
    else:
        model_admin.message_user(request, _("No failed deliveries to retry."), messages.WARNING)
    return HttpResponseRedirect(change_url(model_admin, notification))


def _cancel(request: HttpRequest, model_admin: Any, notification: Notification) -> HttpResponse:
    if notification.status in CANCELLABLE and dispatch.cancel(notification):
        model_admin.message_user(request, _("Cancelled."), messages.SUCCESS)
    else:
        model_admin.message_user(request, _("It had already finished and was left alone."), messages.WARNING)
    return HttpResponseRedirect(change_url(model_admin, notification))


def _duplicate(request: HttpRequest, model_admin: Any, notification: Notification) -> HttpResponse:
    draft = dispatch.duplicate(notification, created_by=request.user)
    model_admin.message_user(
        request, _("Saved a draft copy; edit it in the composer and send it."), messages.SUCCESS
    )
    opts = Notification._meta
    compose = reverse(
        f"admin:{opts.app_label}_{opts.model_name}_compose", current_app=model_admin.admin_site.name
    )
    return HttpResponseRedirect(f"{compose}?draft={draft.pk}")


ACTIONS: dict[str, Callable[[HttpRequest, Any, Notification], HttpResponse]] = {
    "retry": _retry,
    "cancel": _cancel,
    "duplicate": _duplicate,
}
