"""Webhook endpoints: where system-to-system events go, and the secrets that sign them.

Each endpoint is tied to one ``Device`` row (platform ``webhook``, address = the URL), so its
deliveries go through the same ledger as pushes: Delivery rows, claims, the (notification, device)
rule, retries and admin progress. The endpoint holds what a device has no column for: the signing
secret (and the previous one during a rotation's overlap), the event types it wants, and its health.
Services that change endpoints live in :mod:`django_push.devices.webhooks`.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from django_push.models.devices import Device

__all__ = ["WebhookEndpoint"]


class WebhookEndpoint(models.Model):
    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    device = models.OneToOneField(
        Device, verbose_name=_("device"), on_delete=models.CASCADE, related_name="webhook_endpoint"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="push_webhook_endpoints",
        help_text=_("Empty: a site-wide endpoint."),
    )
    url = models.URLField(_("URL"), max_length=2048)
    description = models.CharField(_("description"), max_length=255, blank=True)
    event_types = models.JSONField(
        _("event types"), default=list, blank=True, help_text=_("Notification types to send; empty: all.")
    )
    active = models.BooleanField(_("active"), default=True)
    secret = models.CharField(_("signing secret"), max_length=128, editable=False)
    previous_secret = models.CharField(_("previous secret"), max_length=128, blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(
        _("previous secret valid until"), null=True, blank=True, editable=False
    )
    consecutive_failures = models.PositiveIntegerField(_("consecutive failed attempts"), default=0)
    failing_since = models.DateTimeField(_("failing since"), null=True, blank=True)
    disabled_at = models.DateTimeField(_("disabled"), null=True, blank=True)
    disabled_reason = models.CharField(_("disabled reason"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        indexes = [models.Index(fields=["owner", "active"], name="django_push_hook_owner")]

    def __str__(self) -> str:
        return self.url

    def __repr__(self) -> str:  # never the secrets
        return f"<WebhookEndpoint {self.pk} {self.url}>"

    def signing_secrets(self, now: datetime | None = None) -> tuple[str, ...]:
        """The secrets valid now, newest first: two while a rotation's overlap lasts."""
        now = now or timezone.now()
        previous = self.previous_secret
        if previous and self.previous_secret_expires_at is not None and self.previous_secret_expires_at > now:
            return (self.secret, previous)
        return (self.secret,)

    def wants(self, event_type: str) -> bool:
        """Whether this endpoint subscribed to ``event_type`` (an empty list means every type)."""
        return not self.event_types or event_type in self.event_types

    @property
    def masked_secret(self) -> str:
        return f"whsec_…{self.secret[-4:]}" if self.secret else ""
