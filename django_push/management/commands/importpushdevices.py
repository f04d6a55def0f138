"""``manage.py importpushdevices --from django-push-notifications|fcm-django``: copy the incumbent's
devices into django_push (see docs/migrating.md).

Idempotent (run it again after fixing a setting, or just before the switch, to pick up devices
registered meanwhile); ``--dry-run`` reads and validates everything and writes nothing.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_push.conf import DEFAULT_APPLICATION
from django_push.devices.importing import (
    BATCH_SIZE,
    LEGACY_GCM,
    SOURCES,
    DeviceImportError,
    ImportReport,
    ModelReport,
    import_devices,
)


class Command(BaseCommand):
    help = "Import devices from django-push-notifications or fcm-django (idempotent; --dry-run first)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--from", dest="source", required=True, choices=SOURCES, help="The app to import from."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be imported; write nothing."
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=BATCH_SIZE,
            help=f"Rows per query and insert (default {BATCH_SIZE}).",
        )
        parser.add_argument(
            "--application",
            action="append",
            default=[],
            metavar="[PLATFORM=]NAME",
            help="Target application of rows without an application id (every fcm-django row), for every "
            f"platform or one (apns=ios-main); repeatable. Default {DEFAULT_APPLICATION!r}.",
        )
        parser.add_argument(
            "--application-map",
            action="append",
            default=[],
            metavar="SOURCE=TARGET",
            help="Import the source application id SOURCE as the django_push application TARGET; repeatable.",
        )
        parser.add_argument(
            "--include-gcm",
            action="store_true",
            help="Also import GCMDevice rows with cloud_message_type='GCM', as FCM tokens.",
        )
        parser.add_argument(
            "--apns-environment",
            choices=("auto", "production", "sandbox"),
            default="auto",
            help="APNs environment of imported iOS tokens; 'auto' (default) reads "
            "PUSH_NOTIFICATIONS_SETTINGS (USE_SANDBOX / APNS_USE_SANDBOX).",
        )
        parser.add_argument("--active-only", action="store_true", help="Leave inactive source rows out.")

    def handle(self, *args: Any, **options: Any) -> None:
        mapping = {}
        for item in options["application_map"]:
            old, sep, new = item.partition("=")
            if not sep or not old or not new:
                raise CommandError(f"--application-map takes SOURCE=TARGET, not {item!r}.")
            mapping[old] = new
        defaults = {}
        for item in options["application"]:
            platform, sep, name = item.rpartition("=")
            if not name or (sep and not platform):
                raise CommandError(f"--application takes NAME or PLATFORM=NAME, not {item!r}.")
            defaults[platform or "*"] = name
        self._progress_shown = False
        try:
            report = import_devices(
                options["source"],
                dry_run=options["dry_run"],
                batch_size=options["batch_size"],
                application=defaults or DEFAULT_APPLICATION,
                application_map=mapping,
                include_gcm=options["include_gcm"],
                apns_environment=options["apns_environment"],
                active_only=options["active_only"],
                progress=self._progress if self.stderr.isatty() else None,
            )
        except DeviceImportError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            self._end_progress()
        self._print(report)

    def _progress(self, part: ModelReport, done: int, total: int) -> None:
        percent = 100 * done // total if total else 100
        line = f"\r{part.model}: {done:,}/{total:,} rows ({percent}%)"
        self.stderr.write(line, style_func=str, ending="")  # stderr is styled as errors on a TTY
        self.stderr.flush()
        self._progress_shown = True
        if done >= total:
            self._end_progress()

    def _end_progress(self) -> None:
        if self._progress_shown:
            self.stderr.write("", style_func=str)
            self._progress_shown = False

    def _print(self, report: ImportReport) -> None:
        write = self.stdout.write
        verb = "would import" if report.dry_run else "imported"
        write(
            f"Importing from {report.source}" + (" (dry run: nothing is written)" if report.dry_run else "")
        )
        for part in report.models:
            if not part.rows:
                write(f"{part.model}: no rows")
                continue
            if part.refused:
                write(f"{part.model}: {part.rows:,} row(s) refused. {part.refused}")
                continue
            write(f"{part.model} -> {part.platform}: {part.rows:,} row(s)")
            write(
                f"  {verb} {part.imported:,}; already in django_push {part.already_present:,}; "
                f"duplicate address {part.duplicates:,}; invalid {sum(part.invalid.values()):,}; "
                f"unknown application {sum(part.unknown_applications.values()):,}"
                + (f"; legacy GCM {part.legacy_gcm:,}" if part.legacy_gcm else "")
            )
            for reason, count in part.invalid.most_common():
                ids = ", ".join(str(pk) for pk in part.invalid_ids[reason])
                more = ", ..." if count > len(part.invalid_ids[reason]) else ""
                write(
                    f"  invalid: {count:,} x {reason} (source ids {ids}{more}): {part.invalid_detail[reason]}"
                )
            if part.legacy_gcm:
                write(f"  skipped: {part.legacy_gcm:,} x {LEGACY_GCM}")
            if part.rebuilt_endpoints:
                write(
                    f"  {part.rebuilt_endpoints:,} legacy registration id(s) completed into endpoints with "
                    "WP_POST_URL for their browser"
                )
        for warning in report.warnings:
            write(self.style.WARNING(f"Warning: {warning}"))
        present = sum(m.already_present for m in report.models)
        skipped = report.rows - report.imported - present
        write(
            self.style.SUCCESS(
                f"Total: {verb} {report.imported:,} of {report.rows:,} row(s); {present:,} already in "
                f"django_push; {skipped:,} skipped (see above)."
            )
        )
