"""Public signals. Each lists the keyword arguments it sends.

``pre_send(sender=Notification, notification)``
    Sent once before a notification's audience is resolved. A receiver that returns ``False``
    cancels the notification (its status becomes ``cancelled``; nothing is sent).

``post_send(sender=Notification, notification, outcomes)``
    Sent after each batch of answers is recorded. ``outcomes`` is a list of ``(device, SendResult)``.

``device_deactivated(sender=Device, device, reason)``
    Sent for each device that dispatch deactivates (invalid token, or too many failures).

``webhook_endpoint_disabled(sender=WebhookEndpoint, endpoint, reason)``
    Sent when a webhook endpoint is disabled: a run of failed deliveries
    (``WEBHOOK_DISABLE_AFTER_FAILURES`` and ``WEBHOOK_DISABLE_AFTER_SECONDS``), or a 410 Gone.
"""

from django.dispatch import Signal

pre_send = Signal()
post_send = Signal()
device_deactivated = Signal()
#: ``sender=WebhookEndpoint, endpoint=…, reason=str``: an endpoint was disabled after a run of
#: failed deliveries, or because it answered 410 Gone.
webhook_endpoint_disabled = Signal()
