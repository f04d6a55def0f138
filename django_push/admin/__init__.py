"""Admin registrations live in submodules; imported here so ``admin.autodiscover`` finds them.

* :mod:`.devices`: devices (masked addresses, health, "Send test push…", activate, deactivate)
* :mod:`.notifications`: notifications (progress, outcome chart, delivery log, retry, cancel), deliveries
* :mod:`.topics`: topics and subscriptions with subscriber counts
* :mod:`.webhooks`: webhook endpoints (secret shown once, rotate, re-enable)
* :mod:`.broadcast`: the broadcast composer (needs ``django_push.send_broadcast``)
"""

from django_push.admin import devices, notifications, topics, webhooks

__all__ = ["devices", "notifications", "topics", "webhooks"]
