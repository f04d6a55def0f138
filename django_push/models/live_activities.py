"""Broadcast channels (iOS 18): one APNs channel per event, so one request updates every Live
Activity subscribed to it. APNs issues the id (see :mod:`django_push.backends.apns_channels`); this
row remembers it, the app and environment it belongs to, its message storage policy, and the object
of the site it is for (a match, a delivery, a flight)."""

from __future__ import annotations

from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from django_push.models.devices import Environment

__all__ = ["BroadcastChannel", "MessageStoragePolicy"]


class MessageStoragePolicy(models.IntegerChoices):
    """What APNs keeps for a device that is offline when a broadcast goes out."""

    NO_MESSAGE_STORED = 0, _("no message stored")
    MOST_RECENT_MESSAGE_STORED = 1, _("most recent message stored")


class BroadcastChannel(models.Model):
    channel_id = models.CharField(
        _("channel id"), max_length=255, help_text=_("Issued by APNs when the channel was created.")
    )
    application = models.CharField(
        _("application"),
        max_length=100,
        default="default",
        help_text=_("Key of DJANGO_PUSH['APPLICATIONS'] whose APNs backend created the channel."),
    )
    bundle_id = models.CharField(_("bundle id"), max_length=255, help_text=_("The app's APNs topic."))
    environment = models.CharField(
        _("APNs environment"), max_length=16, choices=Environment.choices, default=Environment.PRODUCTION
    )
    storage_policy = models.PositiveSmallIntegerField(
        _("message storage policy"),
        choices=MessageStoragePolicy.choices,
        default=MessageStoragePolicy.MOST_RECENT_MESSAGE_STORED,
    )
    name = models.CharField(_("name"), max_length=255, blank=True, help_text=_("e.g. 'Lyon – Nice, 20:45'."))
    content_type = models.ForeignKey(
        ContentType,
        verbose_name=_("belongs to (type)"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    object_id = models.CharField(_("belongs to (id)"), max_length=64, blank=True)
    content_object = GenericForeignKey("content_type", "object_id")
    active = models.BooleanField(
        _("active"), default=True, help_text=_("False once deleted at APNs (or found missing there).")
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    deleted_at = models.DateTimeField(_("deleted"), null=True, blank=True)
    last_broadcast_at = models.DateTimeField(_("last broadcast"), null=True, blank=True)

    class Meta:
        verbose_name = _("broadcast channel")
        verbose_name_plural = _("broadcast channels")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["environment", "bundle_id", "channel_id"], name="django_push_channel_unique"
            ),
        ]
        indexes = [models.Index(fields=["content_type", "object_id"], name="django_push_channel_owner")]

    def __str__(self) -> str:
        return self.name or f"{self.bundle_id} {self.channel_id}"
