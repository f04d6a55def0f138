"""``manage.py checkpushcredentials``: prove each configured backend's credentials are usable.

For every platform in ``DJANGO_PUSH["BACKENDS"]`` and each of its applications, the backend is built
exactly as sending would build it, then asked to check its credentials without sending anything:
APNs signs a provider token (or loads the client certificate), FCM loads the service account (and
fetches an access token with ``--fetch-token``), Web Push checks that the VAPID private key and the
public key served to browsers are a pair. Exits non-zero, naming what is wrong, if anything is.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.module_loading import import_string

from django_push.conf import push_settings
from django_push.exceptions import PushError
from django_push.handler import backend_config


class Command(BaseCommand):
    help = "Check the credentials of every configured push backend (no push is sent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--platform", action="append", default=[], help="Only this platform (apns, fcm, webpush)."
        )
        parser.add_argument(
            "--fetch-token",
            action="store_true",
            help="Also fetch an FCM OAuth2 access token from Google (a network call).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        platforms = options["platform"] or sorted(push_settings.BACKENDS)
        if not platforms:
            raise CommandError('DJANGO_PUSH["BACKENDS"] is empty: there is nothing to check.')
        problems: list[str] = []
        for platform in platforms:
            for application in push_settings.applications_for(platform):
                label = f"{platform}/{application}"
                try:
                    summary = self.check_backend(platform, application, fetch_token=options["fetch_token"])
                except (ImproperlyConfigured, PushError, OSError, ValueError) as exc:
                    problems.append(f"{label}: {exc}")
                    self.stdout.write(self.style.ERROR(f"{label}: PROBLEM - {exc}"))
                else:
                    self.stdout.write(self.style.SUCCESS(f"{label}: OK - {summary}"))
        if problems:
            raise CommandError(
                f"{len(problems)} backend(s) cannot send with their credentials:\n" + "\n".join(problems)
            )

    def check_backend(self, platform: str, application: str, *, fetch_token: bool) -> str:
        path, backend_options = backend_config(platform, application)
        try:
            cls = import_string(path)
        except ImportError as exc:
            raise ImproperlyConfigured(
                f'DJANGO_PUSH["BACKENDS"]["{platform}"]["BACKEND"] = {path!r} cannot be imported: {exc}'
            ) from exc
        backend = cls(alias=platform, application=application, **backend_options)
        check = getattr(backend, "check_credentials", None)
        if check is None:
            return f"{cls.__name__} uses no credentials (nothing to check)"
        return str(check(fetch_token=fetch_token))
