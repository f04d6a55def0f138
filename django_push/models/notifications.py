"""Notifications and deliveries: the persisted record of every push and of each device's outcome."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from django_push.message import PushMessage
from django_push.models.devices import Device, Platform
from django_push.models.topic_sync import FCMDelivery
from django_push.results import DeliveryStatus

__all__ = ["MESSAGE_OPTION_FIELDS", "Delivery", "DeliveryPolicy", "Notification", "NotificationStatus"]


class NotificationStatus(models.TextChoices):
    DRAFT = "draft", _("draft")
    SCHEDULED = "scheduled", _("scheduled")
    QUEUED = "queued", _("queued")
    SENDING = "sending", _("sending")
    DONE = "done", _("done")
    FAILED = "failed", _("failed")
    CANCELLED = "cancelled", _("cancelled")


MESSAGE_OPTION_FIELDS = (
    "badge",
    "sound",
    "category",
    "thread_id",
    "image",
    "icon",
    "url",
    "channel_id",
    "title_loc_key",
    "title_loc_args",
    "loc_key",
    "loc_args",
    "mutable_content",
    "content_available",
    "relevance_score",
    "interruption_level",
    "live_activity",
)


class DeliveryPolicy(models.TextChoices):
    """What to do with a push lost with its connection (the service may have delivered it)."""

    AT_LEAST_ONCE = "at_least_once", _("at least once (resend, collapse-keyed)")
    AT_MOST_ONCE = "at_most_once", _("at most once (record unknown, never resend)")


class Notification(models.Model):
    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    title = models.CharField(_("title"), max_length=255, blank=True)
    body = models.TextField(_("body"), blank=True)
    data = models.JSONField(
        _("data"), default=dict, blank=True, help_text=_("Custom key/value data delivered to the app.")
    )
    overrides = models.JSONField(
        _("per-platform overrides"),
        default=dict,
        blank=True,
        help_text=_('e.g. {"apns": {...}, "fcm": {...}, "webpush": {...}}'),
    )
    options = models.JSONField(
        _("message options"), default=dict, blank=True, help_text=_("badge, sound, image, url, loc keys …")
    )
    priority = models.CharField(
        _("priority"),
        max_length=10,
        default="normal",
        choices=[(p, p) for p in ("critical", "high", "normal", "low")],
    )
    ttl = models.PositiveIntegerField(_("time to live (s)"), null=True, blank=True)
    collapse_key = models.CharField(_("collapse key"), max_length=64, blank=True)
    push_type = models.CharField(_("push type"), max_length=20, default="alert")
    notification_type = models.CharField(_("notification type"), max_length=64, blank=True)
    delivery_policy = models.CharField(
        _("delivery policy"),
        max_length=16,
        choices=DeliveryPolicy.choices,
        default=DeliveryPolicy.AT_LEAST_ONCE,
        help_text=_("A push lost with its connection: resend it collapse-keyed, or record it unknown."),
    )
    fcm_delivery = models.CharField(
        _("FCM delivery"),
        max_length=16,
        choices=FCMDelivery.choices,
        default=FCMDelivery.PER_DEVICE,
        help_text=_(
            "A topic audience's FCM devices: one send per device (a delivery record each, per-device "
            "retries and token cleanup) or one FCM topic send (fast, no per-device record)."
        ),
    )
    fcm_topic_result = models.JSONField(
        _("FCM topic send result"),
        default=dict,
        blank=True,
        help_text=_("Per FCM application: the topic send's message id, or its error."),
    )
    audience = models.JSONField(
        _("audience"),
        default=dict,
        blank=True,
        help_text=_("Who receives it: users, devices, topics, platforms, applications."),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    scheduled_at = models.DateTimeField(_("scheduled for"), null=True, blank=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    planned_at = models.DateTimeField(
        _("audience resolved"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("When every chunk of the audience had been queued."),
    )
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=NotificationStatus.choices, default=NotificationStatus.QUEUED
    )
    targeted = models.PositiveIntegerField(_("targeted"), default=0)
    sent = models.PositiveIntegerField(_("sent"), default=0)
    failed = models.PositiveIntegerField(_("failed"), default=0)
    invalid = models.PositiveIntegerField(_("invalid tokens"), default=0)
    skipped = models.PositiveIntegerField(_("skipped"), default=0)
    unknown = models.PositiveIntegerField(
        _("unknown"),
        default=0,
        help_text=_("Lost with their connection; the service may have delivered them."),
    )
    displayed = models.PositiveIntegerField(
        _("displayed"), default=0, help_text=_("Deliveries the device reported on screen.")
    )
    opened = models.PositiveIntegerField(
        _("opened"), default=0, help_text=_("Deliveries the user opened (reported by the app or browser).")
    )
    clicked = models.PositiveIntegerField(
        _("clicked"), default=0, help_text=_("Deliveries whose link or action the user followed.")
    )
    progress_at = models.DateTimeField(
        _("last progress"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("When answers were last recorded: the sweep requeues planned work only after a stall."),
    )

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at"]
        permissions = [("send_broadcast", _("Can compose and send broadcasts"))]
        indexes = [
            models.Index(fields=["status", "scheduled_at"], name="django_push_notif_due"),
            models.Index(fields=["created_at"], name="django_push_notif_created"),
        ]

    def __str__(self) -> str:
        return self.title or self.notification_type or str(self.public_id)

    @property
    def pending(self) -> int:
        return max(0, self.targeted - self.sent - self.failed - self.invalid - self.skipped - self.unknown)

    @property
    def progress(self) -> int:
        """Percent of targeted deliveries that reached a final outcome."""
        if not self.targeted:
            return 100 if self.status in (NotificationStatus.DONE, NotificationStatus.FAILED) else 0
        return min(100, round(100 * (self.targeted - self.pending) / self.targeted))

    def to_message(self) -> PushMessage:
        options = {k: v for k, v in (self.options or {}).items() if k in MESSAGE_OPTION_FIELDS}
        return PushMessage(
            title=self.title,
            body=self.body,
            data=dict(self.data or {}),
            priority=self.priority,  # type: ignore[arg-type]
            ttl=self.ttl,
            collapse_key=self.collapse_key,
            push_type=self.push_type,
            overrides=dict(self.overrides or {}),
            **options,
        )


class Delivery(models.Model):
    notification = models.ForeignKey(
        Notification, verbose_name=_("notification"), on_delete=models.CASCADE, related_name="deliveries"
    )
    device = models.ForeignKey(
        Device, verbose_name=_("device"), on_delete=models.CASCADE, related_name="deliveries"
    )
    platform = models.CharField(_("platform"), max_length=16, choices=Platform.choices)
    status = models.CharField(
        _("status"), max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    message_id = models.CharField(_("provider message id"), max_length=255, blank=True)
    error_code = models.CharField(_("error code"), max_length=64, blank=True)
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    ambiguous_retry = models.BooleanField(
        _("retried after ambiguous failure"),
        default=False,
        help_text=_("Resent after a connection was lost once the service may have accepted it."),
    )
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    claim = models.CharField(
        _("claimed by"),
        max_length=32,
        blank=True,
        editable=False,
        help_text=_("The send attempt that owns this delivery while it is in flight."),
    )
    in_flight_since = models.DateTimeField(_("in flight since"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    # Engagement, reported by the device with the signed reference its push carried
    # (django_push.dispatch.engagement): each is set once, at the first report.
    displayed_at = models.DateTimeField(_("displayed"), null=True, blank=True, editable=False)
    opened_at = models.DateTimeField(_("opened"), null=True, blank=True, editable=False)
    clicked_at = models.DateTimeField(_("clicked"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        constraints = [
            models.UniqueConstraint(fields=["notification", "device"], name="django_push_delivery_unique"),
        ]
        indexes = [
            models.Index(fields=["notification", "status"], name="django_push_deliv_status"),
            models.Index(fields=["notification", "claim"], name="django_push_deliv_claim"),
            models.Index(fields=["status", "next_attempt_at"], name="django_push_deliv_due"),
            models.Index(fields=["created_at"], name="django_push_deliv_created"),
            # The dashboard's aggregates (django_push.admin.dashboard): a covering index for
            # "deliveries by day, platform and status", and partial ones for opens and failure reasons.
            models.Index(fields=["created_at", "platform", "status"], name="django_push_deliv_day"),
            models.Index(
                fields=["opened_at", "platform"],
                name="django_push_deliv_opened",
                condition=models.Q(opened_at__isnull=False),
            ),
            models.Index(
                fields=["created_at", "error_code"],
                name="django_push_deliv_errors",
                condition=~models.Q(error_code=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.notification_id} → {self.device_id}: {self.status}"
