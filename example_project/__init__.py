"""The example site. Its Celery app is imported here, as Celery's Django guide does, so every process
that loads the settings (runserver, management commands, the worker) uses it: with a broker configured
(DJANGO_PUSH_BROKER_URL), sends go through Celery workers; without one, they run in-process."""

from .celery import app as celery_app

__all__ = ("celery_app",)
