"""The FCM topic-sync ledger: local Subscription changes not yet applied to FCM's own topics.

Why a ledger: a change is written in the same transaction as the Subscription it mirrors, so nothing
is lost when the broker drops a job or a worker dies; the sweep (``manage.py syncfcmtopics``, the
``django_push.sync_fcm_topics`` task) finds every row still due. One row per (topic, application,
token): a later change overwrites an earlier one, because only the latest intent matters (Instance ID
add and remove are idempotent). A row applied is deleted; one FCM refused for good stays, FAILED,
with the reason, for operators to see.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class FCMDelivery(models.TextChoices):
    """How a notification reaches the FCM devices of a topic audience (``Notification.fcm_delivery``)."""

    PER_DEVICE = "per_device", _("one send per device, each with its delivery record")
    FCM_TOPIC = "fcm_topic", _("one FCM topic send, no per-device record")


class TopicSyncAction(models.TextChoices):
    ADD = "add", _("add to the FCM topic")
    REMOVE = "remove", _("remove from the FCM topic")


class TopicSyncStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    FAILED = "failed", _("failed")


class FCMTopicChange(models.Model):
    topic = models.CharField(_("topic"), max_length=100)
    application = models.CharField(_("application"), max_length=100, default="default")
    address = models.TextField(_("FCM registration token"))
    address_hash = models.CharField(_("address hash"), max_length=64, editable=False)
    action = models.CharField(_("action"), max_length=8, choices=TopicSyncAction.choices)
    status = models.CharField(
        _("status"), max_length=8, choices=TopicSyncStatus.choices, default=TopicSyncStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    error_code = models.CharField(_("error code"), max_length=64, blank=True)
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    #: Changed on every overwrite: a worker deletes a row it applied only if it is unchanged.
    version = models.PositiveIntegerField(_("version"), default=0)

    class Meta:
        verbose_name = _("FCM topic change")
        verbose_name_plural = _("FCM topic changes")
        constraints = [
            models.UniqueConstraint(
                fields=["topic", "application", "address_hash"], name="django_push_fcm_topic_change_unique"
            ),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="django_push_fcm_topic_due")]

    def __str__(self) -> str:
        return f"{self.action} {self.topic} ({self.status})"
