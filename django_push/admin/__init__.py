"""Admin registrations live in submodules; imported here so ``admin.autodiscover`` finds them.

* :mod:`.devices`: devices (masked addresses, health, "Send test push…", activate, deactivate)
* :mod:`.notifications`: notifications (progress, outcome chart, delivery log, retry, cancel), deliveries
* :mod:`.topics`: topics and subscriptions with subscriber counts
* :mod:`.broadcast`: the broadcast composer (needs ``django_push.send_broadcast``)
* :mod:`.people`: a page per user (devices, deliveries, preferences, quiet hours, inbox, test push)
* :mod:`.people_admin`: inbox items, notification preferences, quiet hours
"""

from django_push.admin import devices, notifications, people_admin, topics

__all__ = ["devices", "notifications", "people_admin", "topics"]
