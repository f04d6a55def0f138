"""``manage.py setuppushschedules``: create the django-celery-beat entries (also done after migrate)."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_push.extras import importable, pip_command
from django_push.schedules import PERIODIC_TASKS, ensure_periodic_tasks


class Command(BaseCommand):
    help = (
        "Create django_push's periodic tasks in django-celery-beat when missing; existing entries are "
        "left as they are (--reset restores their default task, schedule and enabled flag)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Put the default task, schedule and enabled flag back on entries that already exist.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not apps.is_installed("django_celery_beat"):
            if importable("django_celery_beat"):
                raise CommandError("Add 'django_celery_beat' to INSTALLED_APPS first.")
            raise CommandError(
                f"Run {pip_command('celery')}, then add 'django_celery_beat' to INSTALLED_APPS."
            )
        if options["reset"]:
            ensure_periodic_tasks(reset=True)
            self.stdout.write(f"{len(PERIODIC_TASKS)} periodic task(s) reset to their defaults.")
            return
        created = ensure_periodic_tasks()
        self.stdout.write(
            f"{len(PERIODIC_TASKS)} periodic task(s) in place ({created} new; existing entries are left "
            "as they are: --reset restores the defaults)."
        )
