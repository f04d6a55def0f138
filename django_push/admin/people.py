"""A page per user for staff helping them: devices and their health, recent deliveries across
platforms and channels, notification preferences, quiet hours and inbox (read-only), and a "Send
test push" button. ``admin/django_push/device/user/<id>/``, linked from the user admin's change form
(``admin/auth/user/change_form.html``; see docs/admin.md for a custom user model) and from each
device's owner.

Viewing needs ``view_device``; the test push needs ``send_broadcast`` and goes through
``dispatch.send_message`` like the device list's action. Addresses are shown masked only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from django_push import dispatch
from django_push.admin.forms import TestPushForm
from django_push.admin.notification_actions import forbidden
from django_push.models import Delivery, Device, InboxItem, NotificationPreference, QuietHours
from django_push.results import DeliveryStatus

RECENT_DELIVERIES = 50
RECENT_INBOX = 20


def health(device: Device) -> tuple[str, str]:
    """(key, label): the device list's health filter, for one device."""
    if not device.active:
        return "inactive", _("inactive: %(reason)s") % {
            "reason": device.deactivation_reason or _("deactivated")
        }
    if device.failure_count:
        return "failing", ngettext(
            "failing (%(count)d failure in a row)",
            "failing (%(count)d failures in a row)",
            device.failure_count,
        ) % {"count": device.failure_count}
    if device.last_success_at is None:
        return "never", _("never delivered")
    return "ok", _("healthy")


def user_url(user_id: int, admin_site_name: str = "admin") -> str:
    return reverse(f"{admin_site_name}:django_push_device_user", args=[user_id])


def _user(user_id: int) -> Any:
    user = get_user_model()._default_manager.filter(pk=user_id).first()
    if user is None:
        raise Http404
    return user


def user_view(model_admin: Any) -> Callable[..., HttpResponse]:
    def view(request: HttpRequest, user_id: int) -> HttpResponse:
        if not model_admin.has_view_permission(request):
            return forbidden(request, model_admin, "django_push.view_device")
        user = _user(user_id)
        devices = list(Device.objects.filter(owner=user).order_by("-active", "platform", "pk"))
        deliveries = (
            Delivery.objects.filter(device__owner=user)
            .select_related("notification", "device")
            .defer("device__p256dh", "device__auth")
            .order_by("-created_at", "-pk")[:RECENT_DELIVERIES]
        )
        context = {
            **model_admin.admin_site.each_context(request),
            "opts": Device._meta,
            "title": _("Push for %(user)s") % {"user": user},
            "subject": user,
            "devices": [{"device": d, "health": health(d)} for d in devices],
            "deliveries": list(deliveries),
            "preferences": list(
                NotificationPreference.objects.filter(user=user).order_by("notification_type")
            ),
            "quiet_hours": QuietHours.objects.filter(user=user).first(),
            "inbox": list(InboxItem.objects.filter(user=user).order_by("-created_at")[:RECENT_INBOX]),
            "unread": InboxItem.objects.filter(user=user, read_at__isnull=True).count(),
            "can_send": request.user.has_perm("django_push.send_broadcast"),
            "form": TestPushForm(initial={"title": _("Test"), "body": _("A test push from the admin.")}),
            "test_url": reverse(
                f"{model_admin.admin_site.name}:django_push_device_user_test", args=[user.pk]
            ),
        }
        return TemplateResponse(request, "django_push/admin/user/detail.html", context)

    return view


def test_push_view(model_admin: Any) -> Callable[..., HttpResponse]:
    @require_POST
    def view(request: HttpRequest, user_id: int) -> HttpResponse:
        if not request.user.has_perm("django_push.send_broadcast"):
            return forbidden(request, model_admin)
        user = _user(user_id)
        back = user_url(user.pk, model_admin.admin_site.name)
        form = TestPushForm(request.POST)
        if not form.is_valid():
            errors = "; ".join(f"{name}: {' '.join(map(str, e))}" for name, e in form.errors.items())
            model_admin.message_user(
                request, _("Test push not sent: %(errors)s") % {"errors": errors}, messages.ERROR
            )
            return HttpResponseRedirect(back)
        devices = list(Device.objects.filter(owner=user, active=True).order_by("pk"))
        if not devices:
            model_admin.message_user(request, _("This user has no active device."), messages.WARNING)
            return HttpResponseRedirect(back)
        notification = dispatch.send_message(
            form.message(), devices, created_by=request.user, notification_type="admin_test"
        )
        sent = Delivery.objects.filter(notification=notification, status=DeliveryStatus.SENT).count()
        model_admin.message_user(
            request,
            ngettext(
                "Test push sent to %(sent)d of %(count)d active device.",
                "Test push sent to %(sent)d of %(count)d active devices.",
                len(devices),
            )
            % {"sent": sent, "count": len(devices)},
            messages.SUCCESS if sent == len(devices) else messages.WARNING,
        )
        return HttpResponseRedirect(back)

    return view
