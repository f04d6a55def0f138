"""Admin registrations live in submodules; imported here so ``admin.autodiscover`` finds them.

* :mod:`.devices`: devices (masked addresses, health, "Send test push…", activate, deactivate)
* :mod:`.notifications`: notifications (progress, outcome chart, delivery log, retry, cancel), deliveries
* :mod:`.steps`: escalations and digests (pending, fired, cancelled), read-only
* :mod:`.topics`: topics and subscriptions with subscriber counts
* :mod:`.topic_sync`: the FCM topic-sync ledger (pending and failed changes, retry)
* :mod:`.webhooks`: webhook endpoints (secret shown once, rotate, re-enable)
* :mod:`.broadcast`: the broadcast composer (needs ``django_push.send_broadcast``)
* :mod:`.live_activities`: "End selected Live Activities", broadcast channels ("Delete … at APNs")
* :mod:`.people`: a page per user (devices, deliveries, preferences, quiet hours, inbox, test push)
* :mod:`.people_admin`: inbox items, notification preferences, quiet hours
"""

from django_push.admin import (
    devices,
    live_activities,
    notifications,
    people_admin,
    steps,
    topic_sync,
    topics,
    webhooks,
)

__all__ = [
    "devices",
    "live_activities",
    "notifications",
    "people_admin",
    "steps",
    "topic_sync",
    "topics",
    "webhooks",
]
