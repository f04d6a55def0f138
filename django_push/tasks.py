"""Celery tasks: thin wrappers around dispatch, taking ids only.

``@shared_task`` so the site's own Celery app runs them (never an import of a project's app).
``acks_late`` + ``reject_on_worker_lost``: a task whose worker dies is redelivered, and dispatch's
claims make the rerun send only what is still open.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from django_push.conf import push_settings
from django_push.extras import pip_command

try:
    from celery import shared_task
except ImportError as exc:  # only Celery imports this module (or jobs, when Celery is importable)
    raise ImproperlyConfigured(f"django_push.tasks needs Celery: {pip_command('celery')}") from exc

TASK_OPTIONS = {"acks_late": True, "reject_on_worker_lost": True, "ignore_result": True}


@shared_task(name="django_push.start_notification", **TASK_OPTIONS)
def start_notification(notification_id: int) -> None:
    from django_push import dispatch  # imported here: a worker imports this module before Django is set up

    dispatch.plan(notification_id)


@shared_task(name="django_push.send_chunk", **TASK_OPTIONS)
def send_chunk(notification_id: int, device_ids: list[int], attempt: int = 1) -> None:
    from django_push import dispatch

    dispatch.process_chunk(notification_id, device_ids, attempt)


@shared_task(name="django_push.send_due", **TASK_OPTIONS)
def send_due() -> int:
    from django_push import dispatch

    return dispatch.send_due()


@shared_task(name="django_push.clear_stale_devices", **TASK_OPTIONS)
def clear_stale_devices(days: int | None = None, delete: bool = False) -> int:
    from django_push.devices.cleanup import clear_stale_devices as clear

    return clear(days or push_settings.STALE_DEVICE_DAYS, delete=delete)


@shared_task(name="django_push.prune_deliveries", **TASK_OPTIONS)
def prune_deliveries(days: int | None = None) -> int:
    from django_push.devices.cleanup import prune_deliveries as prune

    return prune(days or int(push_settings.DELIVERY_RETENTION_DAYS))


@shared_task(name="django_push.sync_fcm_topics", **TASK_OPTIONS)
def sync_fcm_topics() -> int:
    from django_push.dispatch import topic_sync

    return topic_sync.sync_pending()


@shared_task(name="django_push.repair_fcm_topics", **TASK_OPTIONS)
def repair_fcm_topics() -> int:
    from django_push.dispatch import topic_sync

    return topic_sync.repair()
