"""Devices, topics, notifications and deliveries: the persisted record of every push.

One ``Device`` model serves all platforms (``platform`` is a column, not a subclass). A push address
can be longer than an index allows (Web Push endpoints), so uniqueness is enforced by the database
on a SHA-256 of the address.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .message import PushMessage
from .querysets import DeviceQuerySet
from .results import DeliveryStatus


def address_hash(address: str) -> str:
    return hashlib.sha256(address.encode("utf-8")).hexdigest()


class Platform(models.TextChoices):
    APNS = "apns", _("Apple (APNs)")
    FCM = "fcm", _("Firebase Cloud Messaging")
    WEBPUSH = "webpush", _("Web Push")


class Environment(models.TextChoices):
    PRODUCTION = "production", _("production")
    SANDBOX = "sandbox", _("sandbox")


class Device(models.Model):
    public_id = models.UUIDField(
        _("public id"),
        default=uuid.uuid4,
        unique=True,
        editable=False,
        help_text=_("Opaque id used in API URLs, so tokens never appear there."),
    )
    platform = models.CharField(_("platform"), max_length=16, choices=Platform.choices)
    application = models.CharField(
        _("application"),
        max_length=100,
        default="default",
        help_text=_("Key of DJANGO_PUSH['APPLICATIONS'], or 'default'."),
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="push_devices",
    )
    address = models.TextField(
        _("push address"), help_text=_("APNs/FCM device token, or the Web Push endpoint URL.")
    )
    address_hash = models.CharField(
        _("address hash"),
        max_length=64,
        editable=False,
        help_text=_("SHA-256 of the address; unique per platform and app."),
    )
    p256dh = models.CharField(
        _("p256dh key"),
        max_length=128,
        blank=True,
        help_text=_("Web Push subscription public key (base64url)."),
    )
    auth = models.CharField(
        _("auth secret"),
        max_length=64,
        blank=True,
        help_text=_("Web Push subscription auth secret (base64url)."),
    )
    environment = models.CharField(
        _("APNs environment"),
        max_length=16,
        choices=Environment.choices,
        default=Environment.PRODUCTION,
        help_text=_("Which APNs host serves this token."),
    )
    name = models.CharField(_("name"), max_length=255, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=512, blank=True)
    locale = models.CharField(_("locale"), max_length=35, blank=True, help_text=_("BCP 47, e.g. 'fr-CA'."))
    time_zone = models.CharField(
        _("time zone"), max_length=64, blank=True, help_text=_("IANA name, e.g. 'Europe/Paris'.")
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    registered_at = models.DateTimeField(
        _("registered"), default=timezone.now, help_text=_("Last time the app (re-)registered this address.")
    )
    last_seen_at = models.DateTimeField(_("last seen"), null=True, blank=True)
    last_success_at = models.DateTimeField(_("last success"), null=True, blank=True)
    failure_count = models.PositiveIntegerField(_("consecutive failures"), default=0)
    last_failure_reason = models.CharField(_("last failure reason"), max_length=255, blank=True)
    deactivated_at = models.DateTimeField(_("deactivated"), null=True, blank=True)
    deactivation_reason = models.CharField(_("deactivation reason"), max_length=255, blank=True)

    objects = DeviceQuerySet.as_manager()

    class Meta:
        verbose_name = _("device")
        verbose_name_plural = _("devices")
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "application", "address_hash"], name="django_push_device_unique_address"
            ),
        ]
        indexes = [
            models.Index(fields=["active", "platform", "application", "id"], name="django_push_dev_audience"),
            models.Index(fields=["owner", "active"], name="django_push_dev_owner"),
            models.Index(fields=["last_success_at"], name="django_push_dev_last_ok"),
            models.Index(fields=["created_at"], name="django_push_dev_created"),
        ]

    def __str__(self) -> str:
        return f"{self.get_platform_display()} {self.application} {self.masked_address}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.address_hash = address_hash(self.address)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "address" in update_fields:
            kwargs["update_fields"] = {*update_fields, "address_hash"}
        super().save(*args, **kwargs)

    @property
    def masked_address(self) -> str:
        """The address with all but its ends hidden: enough to tell devices apart, not to use one."""
        a = self.address
        return a if len(a) <= 12 else f"{a[:6]}…{a[-4:]}"

    def to_target(self):  # -> Target (imported lazily to keep models free of backend code)
        from .message import Target

        return Target(self.address, self.p256dh, self.auth, self.environment, key=self.pk)


class Topic(models.Model):
    name = models.SlugField(_("name"), max_length=100, unique=True)
    description = models.CharField(_("description"), max_length=255, blank=True)
    self_subscribe = models.BooleanField(
        _("clients may subscribe"),
        default=True,
        help_text=_("Whether an app may subscribe its device by itself."),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("topic")
        verbose_name_plural = _("topics")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Subscription(models.Model):
    device = models.ForeignKey(
        Device, verbose_name=_("device"), on_delete=models.CASCADE, related_name="subscriptions"
    )
    topic = models.ForeignKey(
        Topic, verbose_name=_("topic"), on_delete=models.CASCADE, related_name="subscriptions"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("subscription")
        verbose_name_plural = _("subscriptions")
        constraints = [
            models.UniqueConstraint(fields=["device", "topic"], name="django_push_subscription_unique"),
        ]
        indexes = [models.Index(fields=["topic", "device"], name="django_push_sub_topic")]

    def __str__(self) -> str:
        return f"{self.device} → {self.topic}"


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
)


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
        return max(0, self.targeted - self.sent - self.failed - self.invalid - self.skipped)

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
        ]

    def __str__(self) -> str:
        return f"{self.notification_id} → {self.device_id}: {self.status}"


# Preferences and the in-app inbox live in their own modules (see django_push.events).
from .inbox_models import InboxItem  # noqa: E402, F401
from .preference_models import NotificationPreference, QuietHours  # noqa: E402, F401
