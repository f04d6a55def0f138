"""The notification detail page's data: the progress endpoint, the outcome chart, the engagement
funnel and the delivery log.

The progress endpoint returns the counters and the page's live parts rendered by the same templates
as the page itself (``fragments``), so the chart, the funnel and the log move with the bar while it
sends, and a click reported after the send shows within one poll."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpRequest, JsonResponse
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from django_push.admin import charts, display
from django_push.models import Delivery, Notification, ScheduledStep
from django_push.results import DeliveryStatus

LOG_PAGE_SIZE = 50
ERROR_CODE_CHOICES = 20  # most frequent error codes offered as filters


def progress_view(model_admin: Any) -> Callable[..., JsonResponse]:
    """``<id>/progress/``: the counters as JSON, polled every second by the detail page."""

    def view(request: HttpRequest, object_id: str) -> JsonResponse:
        notification = model_admin.get_object(request, unquote(object_id))
        if notification is None:
            raise Http404
        if not model_admin.has_view_permission(request, notification):
            raise PermissionDenied
        live = live_context(request, notification)
        data = dict(live["push_progress"])
        data["fragments"] = {
            name: render_to_string(template, live, request=request) for name, template in FRAGMENTS.items()
        }
        return JsonResponse(data)  # admin_view adds never_cache

    return view


#: The page's live parts: each is replaced by its fresh rendering at every poll.
FRAGMENTS = {
    "outcomes": "django_push/admin/notification/outcomes.html",
    "funnel": "django_push/admin/notification/funnel.html",
    "log": "django_push/admin/notification/delivery_log.html",
}


def live_context(request: HttpRequest, notification: Notification) -> dict[str, Any]:
    """What the live parts render from; the same for the page and each poll."""
    held = charts.held(notification)
    funnel = charts.funnel(notification)
    return {
        "push_progress": display.progress_data(notification, held),
        "push_chart": display.outcome_chart(notification),
        "push_funnel": [{**entry, "svg": charts.funnel_svg(entry)} for entry in funnel],
        "push_log": delivery_log(request, notification),
        "original": notification,
    }


def detail_context(request: HttpRequest, notification: Notification) -> dict[str, Any]:
    opts = notification._meta
    progress_url = reverse(
        f"admin:{opts.app_label}_{opts.model_name}_progress",
        args=[notification.pk],
        current_app=getattr(request, "current_app", None),
    )
    live = live_context(request, notification)
    return {
        **live,
        "push_progress_bar": display.progress_bar(notification, text=live["push_progress"]["progress_text"]),
        "push_progress_url": progress_url,
        # Escalations this notification scheduled (pending, fired, cancelled), and the step that sent
        # it when it is itself an escalation or a digest.
        "push_steps": list(ScheduledStep.objects.filter(notification=notification).select_related("result")),
        "push_step_origin": ScheduledStep.objects.filter(result=notification)
        .select_related("notification")
        .first(),
    }


def delivery_log(request: HttpRequest, notification: Notification) -> dict[str, Any]:
    """A page of the notification's deliveries, filtered by ``status`` and ``error_code``."""
    deliveries = Delivery.objects.filter(notification=notification)
    status = request.GET.get("status", "")
    error_code = request.GET.get("error_code", "")
    statuses = dict(deliveries.values_list("status").annotate(n=Count("id")).order_by())
    codes = list(
        deliveries.exclude(error_code="")
        .values_list("error_code")
        .annotate(n=Count("id"))
        .order_by("-n", "error_code")[:ERROR_CODE_CHOICES]
    )
    if status in DeliveryStatus.values:
        deliveries = deliveries.filter(status=status)
    else:
        status = ""
    if error_code:
        deliveries = deliveries.filter(error_code=error_code)
    page = Paginator(
        deliveries.select_related("device")
        .only(
            "id",
            "platform",
            "status",
            "attempts",
            "error_code",
            "reason",
            "ambiguous_retry",
            "updated_at",
            "sent_at",
            "device__id",
            "device__address",
        )
        .order_by("id"),
        LOG_PAGE_SIZE,
    ).get_page(request.GET.get("page"))

    def link(**params: str) -> str:
        current = {"status": status, "error_code": error_code}
        current.update(params)
        query = {k: v for k, v in current.items() if v}
        return "?" + urlencode(query) + "#delivery-log" if query else "?#delivery-log"

    return {
        "page": page,
        "rows": [{"delivery": d, "device": d.device.masked_address, "device_id": d.device_id} for d in page],
        "status": status,
        "error_code": error_code,
        "status_links": [
            {"label": _("All"), "selected": not status, "url": link(status="")},
            *[
                {
                    "value": choice.value,
                    "label": str(choice.label),
                    "count": statuses[choice.value],
                    "selected": status == choice.value,
                    "url": link(status=choice.value),
                }
                for choice in DeliveryStatus
                if statuses.get(choice.value)
            ],
        ],
        "code_links": [
            {"label": _("All"), "selected": not error_code, "url": link(error_code="")},
            *[
                {
                    "value": code,
                    "label": code,
                    "count": n,
                    "selected": error_code == code,
                    "url": link(error_code=code),
                }
                for code, n in codes
            ],
        ],
        "previous_url": link(page=str(page.previous_page_number())) if page.has_previous() else "",
        "next_url": link(page=str(page.next_page_number())) if page.has_next() else "",
    }
