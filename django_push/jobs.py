"""How dispatch's units of work run: as Celery tasks when a broker is configured, or inline.

The same functions run either way, so the embedded default (no broker, or Celery configured to run
eagerly) exercises the code path that workers run in production.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from .conf import push_settings
from .extras import pip_command

logger = logging.getLogger("django_push.jobs")


def use_celery() -> bool:
    setting = push_settings.USE_CELERY
    if setting is not None and not setting:
        return False
    try:
        from celery import current_app
    except ImportError:
        if setting:  # reported by the django_push.E021 check; the push still goes out
            logger.error(
                "USE_CELERY is True but celery is not installed; sending in-process (%s)",
                pip_command("celery"),
            )
        return False
    if setting is not None:
        return True
    conf = current_app.conf
    return bool(conf.broker_url) and not conf.task_always_eager


def enqueue(job: str, *args: Any, countdown: float | None = None) -> None:
    """Run ``job`` ("plan" or "chunk") now, later, or on a worker."""
    if use_celery():
        from . import tasks

        task = {"plan": tasks.start_notification, "chunk": tasks.send_chunk}[job]
        options: dict[str, Any] = {}
        if countdown:
            options["countdown"] = countdown
        if push_settings.CELERY_QUEUE:
            options["queue"] = push_settings.CELERY_QUEUE
        task.apply_async(args=args, **options)
        return
    if countdown:
        if countdown > float(push_settings.EAGER_RETRY_MAX_WAIT):
            # Too long to wait in-process; the deliveries keep their next_attempt_at and the
            # send_due sweep (beat, or `manage.py sendduepush`) picks them up.
            logger.info("deferring %s%r by %.1fs to the send_due sweep", job, args[:1], countdown)
            return
        time.sleep(countdown)
    from . import dispatch

    if job == "plan":
        dispatch.plan(*args)
    else:
        dispatch.process_chunk(*args)
