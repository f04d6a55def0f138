"""``manage.py clearpushdevices``: deactivate or delete stale devices (after ``clearsessions``).

A device is stale when it had no successful push for ``--days`` days, or never had one and was
registered more than ``--days`` days ago. Works in set-based SQL batches, not row by row.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_push.conf import push_settings
from django_push.devices.cleanup import clear_stale_devices, prune_deliveries


class Command(BaseCommand):
    help = "Deactivate (default) or delete devices with no successful push for --days days."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help="Staleness in days (default: DJANGO_PUSH['STALE_DEVICE_DAYS']).",
        )
        parser.add_argument("--delete", action="store_true", help="Delete instead of deactivating.")
        parser.add_argument("--dry-run", action="store_true", help="Only count what would change.")
        parser.add_argument(
            "--prune-deliveries",
            action="store_true",
            help="Also delete Delivery rows older than DELIVERY_RETENTION_DAYS.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["days"] if options["days"] is not None else push_settings.STALE_DEVICE_DAYS
        if days < 1:
            raise CommandError(f"--days must be at least 1, not {days}.")
        verb = "deleted" if options["delete"] else "deactivated"
        count = clear_stale_devices(days, delete=options["delete"], dry_run=options["dry_run"])
        prefix = "Would have " if options["dry_run"] else ""
        self.stdout.write(f"{prefix}{verb} {count} device(s) with no successful push in {days} days.")
        if options["prune_deliveries"] and not options["dry_run"]:
            pruned = prune_deliveries(int(push_settings.DELIVERY_RETENTION_DAYS))
            self.stdout.write(
                f"Deleted {pruned} delivery row(s) older than {push_settings.DELIVERY_RETENTION_DAYS} days."
            )
