"""The example site. Its Celery app is imported here, as Celery's Django guide does, so every process
that loads the settings (runserver, management commands, the worker) uses it: with a broker configured
(DJANGO_PUSH_BROKER_URL), sends go through Celery workers; without one, they run in-process.

Installed without the "celery" extra (the bare core), the site runs and sends in-process."""

from typing import Any

celery_app: Any
try:
    from .celery import app as celery_app
except ModuleNotFoundError as exc:
    if exc.name != "celery":
        raise
    celery_app = None

__all__ = ("celery_app",)
