"""One FCM topic send instead of N device sends, for a topic audience (``fcm_delivery="fcm_topic"``).

The trade-off, chosen per notification by staff: FCM fans the message out itself, so it is one request
whatever the audience size, but there is no per-device record (no Delivery rows, no per-device retries
or token cleanup from this send, no per-device rendering or delivery filters: every FCM device of the
topic gets the same message). It relies on FCM's topics holding the local subscribers, which is what
``FCM_TOPIC_SYNC`` keeps true (dispatch/topic_sync.py).

Devices of other platforms in the audience are still sent to one by one. Several topics go as one FCM
*condition* (``'a' in topics || 'b' in topics``: a device in two topics gets it once), at most 5.
One send per FCM application (each is its own Firebase project, with its own topics).
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from django_push.conf import PLATFORMS, push_settings
from django_push.exceptions import PushAuthError, PushConfigurationError
from django_push.handler import backends
from django_push.models import FCMDelivery, Notification, NotificationStatus, Platform
from django_push.results import DeliveryStatus, SendResult
from django_push.transport import loop

logger = logging.getLogger("django_push.dispatch.fcm_topic_send")
TOPIC_AUDIENCE_KEYS = frozenset({"topics", "platforms", "applications"})
MAX_CONDITION_TOPICS = 5  # FCM's limit on topics in one condition


def validate(audience: dict[str, Any]) -> None:
    """Why this audience cannot go as one FCM topic send (ValidationError), or nothing."""
    if not push_settings.FCM_TOPIC_SYNC:
        raise ValidationError(
            _(
                'One FCM topic send needs DJANGO_PUSH["FCM_TOPIC_SYNC"] = True, so that FCM\'s topics hold '
                "the local subscribers; otherwise it would reach nobody."
            ),
            code="fcm_topic_sync_off",
        )
    topics = audience.get("topics") or []
    extra = set(audience) - TOPIC_AUDIENCE_KEYS
    if not topics or any(audience.get(key) for key in extra):
        raise ValidationError(
            _(
                "One FCM topic send needs an audience of topics only (optionally narrowed by platforms "
                "or applications): FCM cannot apply users, devices, locales or filters."
            ),
            code="fcm_topic_audience",
        )
    if len(topics) > MAX_CONDITION_TOPICS:
        raise ValidationError(
            _("One FCM topic send takes at most %(n)d topics (FCM's condition limit).")
            % {"n": MAX_CONDITION_TOPICS},
            code="fcm_topic_count",
        )
    if audience.get("platforms") and Platform.FCM not in audience["platforms"]:
        raise ValidationError(
            _("The audience has no FCM devices to send to as a topic."), code="fcm_topic_none"
        )


def per_device_audience(notification: Notification) -> dict[str, Any] | None:
    """The audience left for per-device sends: FCM excluded when it goes as a topic send; None when
    nothing is left."""
    audience = dict(notification.audience or {})
    if notification.fcm_delivery != FCMDelivery.FCM_TOPIC:
        return audience
    platforms = [p for p in (audience.get("platforms") or PLATFORMS) if p != Platform.FCM]
    if not platforms:
        return None
    return {**audience, "platforms": platforms}


def send(notification: Notification) -> dict[str, Any]:
    """Send ``notification`` to its topics once per FCM application and store the results (by
    application) on ``fcm_topic_result``. Skipped when results are already stored (a re-run plan)."""
    if notification.fcm_delivery != FCMDelivery.FCM_TOPIC or notification.fcm_topic_result:
        return dict(notification.fcm_topic_result or {})
    topics = list(notification.audience.get("topics") or [])
    target: dict[str, str] = (
        {"topic": topics[0]}
        if len(topics) == 1
        else {"condition": " || ".join(f"'{t}' in topics" for t in topics)}
    )
    applications = notification.audience.get("applications") or push_settings.applications_for(Platform.FCM)
    message = notification.to_message()
    outcome: dict[str, Any] = {}
    for application in applications:
        if not push_settings.is_known_application(Platform.FCM, application):
            continue  # an application of another platform in the audience
        result = _send_one(application, message, target)
        outcome[application] = {
            **target,
            "status": result.status.value,
            "message_id": result.message_id,
            "error_code": result.error_code,
            "reason": result.reason[:500],
            "at": timezone.now().isoformat(),
        }
    Notification.objects.filter(pk=notification.pk).update(fcm_topic_result=outcome)
    notification.fcm_topic_result = outcome
    return outcome


def _send_one(application: str, message: Any, target: dict[str, str]) -> SendResult:
    try:
        backend = backends[Platform.FCM.value, application]
        return loop.run(backend.send_to_topic(message, **target))  # type: ignore[attr-defined]
    except (PushAuthError, PushConfigurationError) as exc:
        logger.error("FCM topic send for application %r failed: %s", application, exc)
        return SendResult(DeliveryStatus.FAILED, error_code=type(exc).__name__, reason=str(exc))


def settle(notification: Notification) -> None:
    """A notification that was only a topic send is FAILED when no FCM application accepted it (it
    finished DONE with its zero per-device deliveries)."""
    results = notification.fcm_topic_result or {}
    if not any(r.get("status") == DeliveryStatus.SENT for r in results.values()):
        Notification.objects.filter(pk=notification.pk, status=NotificationStatus.DONE).update(
            status=NotificationStatus.FAILED
        )
