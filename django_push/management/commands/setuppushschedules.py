"""``manage.py setuppushschedules``: create the django-celery-beat entries (also done after migrate)."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError

from ...extras import importable, pip_command
from ...schedules import PERIODIC_TASKS, ensure_periodic_tasks


class Command(BaseCommand):
    help = "Create or update django_push's periodic tasks in django-celery-beat (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        if not apps.is_installed("django_celery_beat"):
            if importable("django_celery_beat"):
                raise CommandError("Add 'django_celery_beat' to INSTALLED_APPS first.")
            raise CommandError(
                f"Run {pip_command('celery')}, then add 'django_celery_beat' to INSTALLED_APPS."
            )
        created = ensure_periodic_tasks()
        self.stdout.write(f"{len(PERIODIC_TASKS)} periodic task(s) in place ({created} new).")
