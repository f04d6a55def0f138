"""``manage.py sendduepush``: start scheduled notifications that are due and rerun lost retries.

Celery beat runs the same function every minute; this command is for sites without beat (and the
demo), optionally looping.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from django_push import dispatch


class Command(BaseCommand):
    help = "Send due scheduled notifications and retries (once, or every --every seconds)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--every", type=float, default=0, help="Loop, sleeping this many seconds.")

    def handle(self, *args: Any, **options: Any) -> None:
        while True:
            count = dispatch.send_due()
            if count or not options["every"]:
                self.stdout.write(f"Queued {count} due job(s).")
            if not options["every"]:
                return
            time.sleep(options["every"])
