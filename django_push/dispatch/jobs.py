"""How dispatch's units of work run: as Celery tasks when a broker is configured, or inline.

A job is named by its Celery task name and carries the function that runs it inline, so this module
imports neither dispatch nor the tasks: with Celery the name is sent (``send_task``) and the worker's
``django_push.tasks`` runs the same function; without it, the function runs here, in-process. Either
way the same code runs, so the embedded default exercises the path workers run in production.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from django_push.conf import push_settings

logger = logging.getLogger("django_push.jobs")


def use_celery() -> bool:
    setting = push_settings.USE_CELERY
    if setting is not None:
        return bool(setting)
    try:
        from celery import current_app
    except ImportError:  # pragma: no cover
        return False
    conf = current_app.conf
    return bool(conf.broker_url) and not conf.task_always_eager


def enqueue(task_name: str, func: Callable[..., Any], *args: Any, countdown: float | None = None) -> None:
    """Run ``func(*args)`` now, later, or on a worker as the Celery task ``task_name``."""
    if use_celery():
        from celery import current_app

        options: dict[str, Any] = {}
        if countdown:
            options["countdown"] = countdown
        if push_settings.CELERY_QUEUE:
            options["queue"] = push_settings.CELERY_QUEUE
        current_app.send_task(task_name, args=args, **options)
        return
    if countdown:
        if countdown > float(push_settings.EAGER_RETRY_MAX_WAIT):
            # Too long to wait in-process; the deliveries keep their next_attempt_at and the
            # send_due sweep (beat, or `manage.py sendduepush`) picks them up.
            logger.info("deferring %s%r by %.1fs to the send_due sweep", task_name, args[:1], countdown)
            return
        time.sleep(countdown)
    func(*args)
