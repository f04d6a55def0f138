"""Scheduled channel steps: escalations and digests, persisted in the ledger with a due time.

A type's ``escalate(...)`` rule stores one :class:`ScheduledStep` per notification (kind
``escalation``); its ``digest(...)`` rule keeps one pending step per (user, type, channel) (kind
``digest``), which collects the user's items until it is due. ``send_due`` claims due steps (an
atomic UPDATE, like a Delivery), checks the rule's ``unless`` condition and either fires the step (a
new Notification on the step's channel, stored in the same transaction that marks the step fired)
or cancels it. A worker that dies holding a claim leaves it stale: the next sweep takes it over,
and the step still fires exactly once.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from django_push.models.notifications import Notification

__all__ = ["ScheduledStep", "StepKind", "StepStatus"]


class StepKind(models.TextChoices):
    ESCALATION = "escalation", _("escalation")
    DIGEST = "digest", _("digest")


class StepStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    FIRED = "fired", _("fired")
    CANCELLED = "cancelled", _("cancelled (condition met)")


class ScheduledStep(models.Model):
    kind = models.CharField(_("kind"), max_length=16, choices=StepKind.choices)
    notification = models.ForeignKey(
        Notification,
        verbose_name=_("notification"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="steps",
        help_text=_("The notification an escalation follows up."),
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text=_("The user a digest is for."),
    )
    notification_type = models.CharField(_("notification type"), max_length=64)
    channel = models.CharField(_("channel"), max_length=16)
    unless = models.CharField(_("unless"), max_length=16, blank=True)
    due_at = models.DateTimeField(_("due"))
    status = models.CharField(
        _("status"), max_length=16, choices=StepStatus.choices, default=StepStatus.PENDING
    )
    claim = models.CharField(_("claimed by"), max_length=32, blank=True, editable=False)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True, editable=False)
    fired_at = models.DateTimeField(_("fired"), null=True, blank=True)
    result = models.ForeignKey(
        Notification,
        verbose_name=_("sent as"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("The notification this step sent."),
    )
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    created_at = models.DateTimeField(
        _("created"), default=timezone.now, help_text=_("A digest collects items from this time on.")
    )

    class Meta:
        app_label = "django_push"
        verbose_name = _("scheduled step")
        verbose_name_plural = _("scheduled steps")
        ordering = ["due_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["notification", "channel"],
                condition=Q(kind="escalation"),
                name="django_push_step_one_escalation",
            ),
            models.UniqueConstraint(
                fields=["user", "notification_type", "channel"],
                condition=Q(kind="digest", status="pending"),
                name="django_push_step_one_open_digest",
            ),
        ]
        indexes = [models.Index(fields=["status", "due_at"], name="django_push_step_due")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} → {self.channel} ({self.get_status_display()})"
