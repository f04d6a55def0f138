"""Admin registrations live in submodules; imported here so ``admin.autodiscover`` finds them.

* :mod:`.devices`: devices (masked addresses, health, "Send test push…", activate, deactivate)
* :mod:`.notifications`: notifications (progress, outcome chart, delivery log, retry, cancel), deliveries
* :mod:`.steps`: escalations and digests (pending, fired, cancelled), read-only
* :mod:`.topics`: topics and subscriptions with subscriber counts
* :mod:`.broadcast`: the broadcast composer (needs ``django_push.send_broadcast``)
"""

from django_push.admin import devices, notifications, steps, topics

__all__ = ["devices", "notifications", "steps", "topics"]
