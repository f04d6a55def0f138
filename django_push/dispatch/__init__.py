"""The only path that sends.

``notify()`` stores a Notification and queues it on transaction commit; ``plan()`` resolves its
audience into keyset chunks of device ids and queues one job per chunk; ``process_chunk()`` claims
the chunk's open deliveries, sends them through the backends, and records answers as they arrive.
``send_message()`` is the synchronous shortcut for "this message to these devices, now".
``send_due()`` starts scheduled notifications and requeues lost work; ``retry_failed()`` sends a
notification's failed deliveries again; ``duplicate()`` copies one as a draft. Every entry point
(API, admin, commands, events, tasks, a site's own code) calls these.

Modules: :mod:`.planning` (create, plan), :mod:`.chunks` (claim → filter → send → record),
:mod:`.recording`, :mod:`.sweep` (due work, lost work, retries), :mod:`.audience`, :mod:`.filters`,
:mod:`.backoff`, :mod:`.jobs` (Celery by task name, or inline).
"""

from django_push.dispatch.backoff import backoff
from django_push.dispatch.chunks import process_chunk, process_chunks
from django_push.dispatch.planning import (
    cancel,
    create,
    duplicate,
    notify,
    plan,
    queue_notification,
    send_message,
)
from django_push.dispatch.sweep import retry_failed, send_due

__all__ = [
    "backoff",
    "cancel",
    "create",
    "duplicate",
    "notify",
    "plan",
    "process_chunk",
    "process_chunks",
    "queue_notification",
    "retry_failed",
    "send_due",
    "send_message",
]
