"""The app's models, one module per subject (Django's models-package idiom).

``django_push.models`` re-exports every model, so ``from django_push.models import Device`` keeps working.
"""

from django_push.models.devices import (
    Device,
    DeviceKind,
    Environment,
    Platform,
    PushManagerKind,
    Subscription,
    Topic,
)
from django_push.models.inbox import InboxItem
from django_push.models.live_activities import BroadcastChannel, MessageStoragePolicy
from django_push.models.notifications import (
    MESSAGE_OPTION_FIELDS,
    Delivery,
    DeliveryPolicy,
    Notification,
    NotificationStatus,
)
from django_push.models.preferences import NotificationPreference, QuietHours
from django_push.models.querysets import DeviceQuerySet, address_hash
from django_push.models.steps import ScheduledStep, StepKind, StepStatus
from django_push.models.topic_sync import FCMDelivery, FCMTopicChange, TopicSyncAction, TopicSyncStatus
from django_push.models.webhooks import WebhookEndpoint

__all__ = [
    "MESSAGE_OPTION_FIELDS",
    "BroadcastChannel",
    "Delivery",
    "DeliveryPolicy",
    "Device",
    "DeviceKind",
    "DeviceQuerySet",
    "Environment",
    "FCMDelivery",
    "FCMTopicChange",
    "InboxItem",
    "MessageStoragePolicy",
    "Notification",
    "NotificationPreference",
    "NotificationStatus",
    "Platform",
    "PushManagerKind",
    "QuietHours",
    "ScheduledStep",
    "StepKind",
    "StepStatus",
    "Subscription",
    "Topic",
    "TopicSyncAction",
    "TopicSyncStatus",
    "WebhookEndpoint",
    "address_hash",
]
