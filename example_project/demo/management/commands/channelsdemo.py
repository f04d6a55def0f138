"""Walk through the channel routing of docs/channels.md with the console backends.

1. a security alert to the demo user: push, e-mail and SMS at once (all printed);
2. a payment notice (push, then e-mail after 5 minutes unless delivered) whose push fails: the sweep
   ``send_due`` is run as if 5 minutes had passed, and the escalation e-mail is printed;
3. a comment left unread: the sweep run as if a day had passed mails the digest.

Run ``python manage.py setupdemo`` first. Nothing waits: the sweep is given a later "now".
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone

from django_push import dispatch
from django_push.compose.send import send
from django_push.compose.types import escalate
from django_push.conf import push_settings
from django_push.models import ScheduledStep

LOCMEM = {"BACKEND": "django_push.backends.locmem.LocmemBackend"}


class Command(BaseCommand):
    help = "Send a security alert, escalate an undelivered payment push and mail a comment digest."

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username="demo").first()
        if user is None:
            raise CommandError("Run `python manage.py setupdemo` first (it creates the demo user).")
        self.stdout.write(self.style.MIGRATE_HEADING("1. security_alert → push + e-mail + SMS at once"))
        with transaction.atomic():
            send("security_alert", to=user, title="New sign-in", body="From Firefox on Linux, Paris.")

        self.stdout.write(
            self.style.MIGRATE_HEADING("2. payment → push; e-mail 5 minutes later unless delivered")
        )
        from django_push.backends import locmem

        conf = dict(push_settings.user_settings)
        conf["BACKENDS"] = {**conf["BACKENDS"], "apns": LOCMEM, "fcm": LOCMEM, "webpush": LOCMEM}
        conf["NOTIFICATION_TYPES"] = {
            **conf.get("NOTIFICATION_TYPES", {}),
            "payment": {
                "priority": "high",
                "rules": [escalate(to="email", after=timedelta(minutes=5), unless="delivered")],
            },
        }
        with override_settings(DJANGO_PUSH=conf):
            for device in user.push_devices.filter(platform__in=["apns", "fcm", "webpush"]):
                locmem.script_outcome(device.address, "failed")  # every push of it fails
            with transaction.atomic():
                payment = send("payment", to=user, title="Payment received", body="$42.00 from ACME")
            dispatch.send_due(now=timezone.now() + timedelta(minutes=5))
            step = ScheduledStep.objects.get(notification=payment)
            self.stdout.write(f"escalation: {step.get_status_display()} ({step.reason})")
            locmem.clear()

        self.stdout.write(self.style.MIGRATE_HEADING("3. comment → push + inbox; e-mail digest a day later"))
        with transaction.atomic():
            send("comment", to=user, title="Ada commented", body="Nice post!")
        dispatch.send_due(now=timezone.now() + timedelta(hours=24))
        digest = ScheduledStep.objects.filter(kind="digest", user=user).order_by("-pk").first()
        if digest is not None:
            self.stdout.write(f"digest: {digest.get_status_display()} ({digest.reason})")
