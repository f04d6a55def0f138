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
from django_push.extras import pip_command

logger = logging.getLogger("django_push.dispatch.jobs")


def use_celery() -> bool:
    setting = push_settings.USE_CELERY
    if setting is not None and not setting:
        return False
    try:
        from celery import current_app
    except ImportError:
        if setting:  # reported by the django_push.E023 check; the push still goes out
            logger.error(
                "USE_CELERY is True but celery is not installed; sending in-process (%s)",
                pip_command("celery"),
            )
        return False
    if setting is not None:
        return True
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
    warn_if_broker_unused()
    if countdown:
        if countdown > float(push_settings.EAGER_RETRY_MAX_WAIT):
            # Too long to wait in-process; the deliveries keep their next_attempt_at and the
            # send_due sweep (beat, or `manage.py sendduepush`) picks them up.
            logger.info("deferring %s%r by %.1fs to the send_due sweep", task_name, args[:1], countdown)
            return
        time.sleep(countdown)
    func(*args)


# -- a broker configured but not loaded (system check django_push.W002) ----------------------------
CELERY_APP_HINT = (
    "Import your Celery app in your project's __init__.py: `from .celery import app as celery_app` "
    '(with app.config_from_object("django.conf:settings", namespace="CELERY") in celery.py), so '
    'every process that loads the settings uses it; or set DJANGO_PUSH["USE_CELERY"] = False to '
    "send in-process on purpose."
)


def _broker_setting() -> str:
    """The name of the Django setting that configures a broker, or ""."""
    from django.conf import settings

    if getattr(settings, "CELERY_BROKER_URL", None):
        return "CELERY_BROKER_URL"
    namespace = getattr(settings, "CELERY", None)
    if isinstance(namespace, dict) and namespace.get("broker_url"):
        return 'CELERY["broker_url"]'
    return ""


def _eager_setting() -> bool:
    from django.conf import settings

    namespace = getattr(settings, "CELERY", None)
    return bool(
        getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False)
        or (isinstance(namespace, dict) and namespace.get("task_always_eager"))
    )


def celery_problem() -> str:
    """Why sends would run in-process although the settings configure a broker ("" when they would not).

    Looks at the app Celery hands out in this thread (``current_app``) and to every other thread (its
    default app) without creating Celery's fallback app.
    """
    setting = _broker_setting()
    if not setting or push_settings.USE_CELERY is False or _eager_setting():
        return ""
    try:
        from celery import _state
    except ImportError:  # pragma: no cover - celery is a dependency
        return ""
    apps = [app for app in (_state._tls.current_app, _state.default_app) if app is not None]
    if not apps:
        return f"settings.{setting} is set, but no Celery app is loaded in this process"
    for app in apps:
        if not app.conf.broker_url:
            return (
                f"settings.{setting} is set, but the Celery app this process uses ({app.main!r}) has no "
                "broker_url" + (": it is Celery's fallback app" if app.main == "default" else "")
            )
    return ""


_warned_in_process = False


_warned_in_process = False


def warn_if_broker_unused() -> None:
    """Log once per process when a send runs in-process although a broker is configured."""
    global _warned_in_process
    if _warned_in_process:
        return
    problem = celery_problem()
    if problem:
        _warned_in_process = True
        logger.warning("%s: this send runs in-process (django_push.W002). %s", problem, CELERY_APP_HINT)
