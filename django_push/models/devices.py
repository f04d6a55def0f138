"""Devices, topics and subscriptions: who can be reached, and where.

One ``Device`` model serves all platforms (``platform`` is a column, not a subclass). A push address
can be longer than an index allows (Web Push endpoints), so uniqueness is enforced by the database
on a SHA-256 of the address (:func:`~django_push.models.querysets.address_hash`).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from django_push.message import Target
from django_push.models.querysets import DeviceQuerySet, address_hash

__all__ = ["Device", "Environment", "Platform", "Subscription", "Topic", "address_hash"]


class Platform(models.TextChoices):
    APNS = "apns", _("Apple (APNs)")
    FCM = "fcm", _("Firebase Cloud Messaging")
    WEBPUSH = "webpush", _("Web Push")
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")
    WEBHOOK = "webhook", _("Webhook")


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

    def to_target(self) -> Target:
        """What a backend needs to reach this device (backends never see model instances)."""
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
