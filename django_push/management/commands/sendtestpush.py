"""``manage.py sendtestpush``: send a test notification to a user's devices, a device, or a topic.

Named after Django's ``sendtestemail``. Goes through dispatch like every other send, so the result
printed per device is exactly what a broadcast would record.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_push import dispatch
from django_push.message import PushMessage
from django_push.models import Delivery, Device


class Command(BaseCommand):
    help = "Send a test push to a user's devices (--user), devices (--device) or a topic (--topic)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", action="append", default=[], help="Username or id; repeatable.")
        parser.add_argument(
            "--device", action="append", default=[], help="Device id or public id; repeatable."
        )
        parser.add_argument("--topic", action="append", default=[], help="Topic name; repeatable.")
        parser.add_argument("--title", default="Test push")
        parser.add_argument("--body", default="If you can read this, push works.")
        parser.add_argument("--data", default="{}", help="JSON object delivered as custom data.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            data = json.loads(options["data"])
        except json.JSONDecodeError as exc:
            raise CommandError(f"--data is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise CommandError('--data must be a JSON object, e.g. \'{"url": "/"}\'.')
        devices = self._devices(options)
        if not devices:
            raise CommandError("No active device matches; nothing was sent.")
        notification = dispatch.send_message(
            PushMessage(title=options["title"], body=options["body"], data=data), devices
        )
        deliveries = (
            Delivery.objects.filter(notification=notification).select_related("device").order_by("device_id")
        )
        for d in deliveries:
            detail = f" {d.error_code}: {d.reason}" if d.error_code or d.reason else ""
            self.stdout.write(
                f"{d.device_id}\t{d.device.platform}\t{d.device.masked_address}\t{d.status}{detail}"
            )
        self.stdout.write(
            f"{notification.sent} sent, {notification.failed} failed, "
            f"{notification.invalid} invalid, {notification.skipped} skipped"
        )

    def _devices(self, options: dict[str, Any]) -> list[Device]:
        if not (options["user"] or options["device"] or options["topic"]):
            raise CommandError("Say who receives it: --user, --device or --topic.")
        qs = Device.objects.active()
        found: dict[int, Device] = {}
        User = get_user_model()
        for ref in options["user"]:
            lookup = {"pk": int(ref)} if ref.isdigit() else {User.USERNAME_FIELD: ref}
            user = User._default_manager.filter(**lookup).first()
            if user is None:
                raise CommandError(f"No user {ref!r}.")
            found.update({d.pk: d for d in qs.filter(owner=user)})
        for ref in options["device"]:
            lookup = {"pk": int(ref)} if ref.isdigit() else {"public_id": ref}
            try:
                device = Device.objects.get(**lookup)
            except (Device.DoesNotExist, ValueError, Exception) as exc:
                raise CommandError(f"No device {ref!r}.") from exc
            found[device.pk] = device
        for name in options["topic"]:
            found.update({d.pk: d for d in qs.subscribed_to(name)})
        return list(found.values())
