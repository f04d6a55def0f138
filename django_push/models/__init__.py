"""The app's models, one module per subject (Django's models-package idiom).

``django_push.models`` re-exports every model, so ``from django_push.models import Device`` keeps working.
"""

from django_push.models.devices import Device, Environment, Platform, Subscription, Topic
from django_push.models.inbox import InboxItem
from django_push.models.notifications import (
    MESSAGE_OPTION_FIELDS,
    Delivery,
    DeliveryPolicy,
    Notification,
    NotificationStatus,
)
from django_push.models.preferences import NotificationPreference, QuietHours
from django_push.models.querysets import DeviceQuerySet, address_hash
from django_push.models.webhooks import WebhookEndpoint

__all__ = [
    "MESSAGE_OPTION_FIELDS",
    "Delivery",
    "DeliveryPolicy",
    "Device",
    "DeviceQuerySet",
    "Environment",
    "InboxItem",
    "Notification",
    "NotificationPreference",
    "NotificationStatus",
    "Platform",
    "QuietHours",
    "Subscription",
    "Topic",
    "WebhookEndpoint",
    "address_hash",
]
