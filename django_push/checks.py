"""System checks for ``settings.DJANGO_PUSH`` (ids django_push.E0xx / W0xx), each with a hint.

Names and shapes here; values in checks_values.py (the backends' keys, files and options) and
checks_paths.py (dotted paths, rules, types, the throttle rate, the Celery app).
"""

from __future__ import annotations

from typing import Any

from django.core import checks
from django.utils.module_loading import import_string

from django_push.checks_paths import check_paths
from django_push.checks_values import check_values
from django_push.conf import CHANNEL_PLATFORMS, DEFAULTS, PLATFORMS, PUSH_PLATFORMS, push_settings
from django_push.exceptions import PushConfigurationError

BACKEND_KEYS = {"BACKEND", "OPTIONS"}
APPLICATION_KEYS = {"PLATFORM", "OPTIONS"}
POSITIVE_INTS = (
    "ENGAGEMENT_MAX_AGE",
    "CHUNK_SIZE",
    "CHUNKS_PER_TASK",
    "FAILURE_THRESHOLD",
    "STALE_DEVICE_DAYS",
    "DELIVERY_RETENTION_DAYS",
    "WEBPUSH_DEFAULT_TTL",
    "WEBHOOK_DISABLE_AFTER_FAILURES",
)
#: Positive integers that may also be None (no limit).
OPTIONAL_POSITIVE_INTS = ("MAX_ATTEMPTS",)
#: Seconds: positive numbers.
POSITIVE_SECONDS = (
    "RETRY_BUDGET",
    "IN_FLIGHT_TIMEOUT",
    "SWEEP_GRACE",
    "RETRY_BACKOFF_BASE",
    "RETRY_BACKOFF_MAX",
    "WEBHOOK_DISABLE_AFTER_SECONDS",
    "WEBHOOK_SECRET_OVERLAP_SECONDS",
)


def register() -> None:
    from django_push.extras import check_extras

    checks.register(check_settings, "django_push")
    checks.register(check_extras, "django_push")  # E020/E021/W020: missing optional dependencies
    from django_push.checks_topic_sync import check_topic_sync

    checks.register(check_topic_sync, "django_push")  # E030/W030: FCM_TOPIC_SYNC


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    raw = push_settings.raw
    if not isinstance(raw, dict):
        return [
            checks.Error(
                "DJANGO_PUSH must be a dict.",
                hint='Set DJANGO_PUSH = {"BACKENDS": {...}}.',
                id="django_push.E001",
            )
        ]
    errors: list[checks.CheckMessage] = []
    for key in sorted(set(raw) - set(DEFAULTS)):
        errors.append(
            checks.Error(
                f"DJANGO_PUSH has an unknown key {key!r}.",
                hint=f"Known keys: {', '.join(sorted(DEFAULTS))}.",
                id="django_push.E002",
            )
        )
    for key in (*POSITIVE_INTS, *OPTIONAL_POSITIVE_INTS):
        value = raw.get(key, DEFAULTS[key])
        if value is None and key in OPTIONAL_POSITIVE_INTS:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            errors.append(
                checks.Error(
                    f'DJANGO_PUSH["{key}"] must be a positive integer, not {value!r}.',
                    hint=f"The default is {DEFAULTS[key]!r}.",
                    id="django_push.E003",
                )
            )
    for key in POSITIVE_SECONDS:
        value = raw.get(key, DEFAULTS[key])
        if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
            errors.append(
                checks.Error(
                    f'DJANGO_PUSH["{key}"] must be a number of seconds above 0, not {value!r}.',
                    hint=f"The default is {DEFAULTS[key]!r}.",
                    id="django_push.E003",
                )
            )
    errors += _check_backends(raw.get("BACKENDS", {}))
    errors += _check_applications(raw.get("APPLICATIONS", {}), raw.get("BACKENDS", {}))
    hosts = raw.get("WEBPUSH_ALLOWED_HOSTS", DEFAULTS["WEBPUSH_ALLOWED_HOSTS"])
    if not isinstance(hosts, list | tuple) or not all(isinstance(h, str) and h for h in hosts):
        errors.append(
            checks.Error(
                'DJANGO_PUSH["WEBPUSH_ALLOWED_HOSTS"] must be a list of host names.',
                hint='e.g. ["fcm.googleapis.com", "*.notify.windows.com"]',
                id="django_push.E010",
            )
        )
    errors += _check_webhook_hosts(raw.get("WEBHOOK_ALLOWED_PRIVATE_HOSTS", []))
    return errors + check_values(raw) + check_paths(raw)


def _check_webhook_hosts(hosts: Any) -> list[checks.CheckMessage]:
    """E025: WEBHOOK_ALLOWED_PRIVATE_HOSTS must parse (else registering a webhook would fail)."""
    from django_push.backends.webhook_urls import parse_private_hosts

    try:
        if not isinstance(hosts, list | tuple):
            raise PushConfigurationError('DJANGO_PUSH["WEBHOOK_ALLOWED_PRIVATE_HOSTS"] must be a list.')
        parse_private_hosts(hosts)
    except PushConfigurationError as exc:
        return [
            checks.Error(
                str(exc),
                hint='e.g. ["127.0.0.1:8443", "hooks.internal"], or [] (the default)',
                id="django_push.E025",
            )
        ]
    return []


def _check_backends(backends: Any) -> list[checks.CheckMessage]:
    if not isinstance(backends, dict):
        return [
            checks.Error(
                'DJANGO_PUSH["BACKENDS"] must be a dict keyed by platform.',
                hint=f"Platforms: {', '.join(PLATFORMS)}.",
                id="django_push.E004",
            )
        ]
    errors: list[checks.CheckMessage] = []
    for alias, conf in backends.items():
        path = f'DJANGO_PUSH["BACKENDS"]["{alias}"]'
        if alias not in PLATFORMS + CHANNEL_PLATFORMS:
            errors.append(
                checks.Error(
                    f"{path}: {alias!r} is not a platform.",
                    hint=f"Use one of {', '.join(PLATFORMS + CHANNEL_PLATFORMS)}.",
                    id="django_push.E005",
                )
            )
            continue
        if not isinstance(conf, dict) or not isinstance(conf.get("BACKEND"), str):
            errors.append(
                checks.Error(
                    f'{path} must be a dict with a "BACKEND" dotted path.',
                    hint='e.g. {"BACKEND": "django_push.backends.console.ConsoleBackend"}',
                    id="django_push.E006",
                )
            )
            continue
        unknown = set(conf) - BACKEND_KEYS
        if unknown:
            errors.append(
                checks.Error(
                    f"{path} has unknown key(s) {', '.join(sorted(map(repr, unknown)))}.",
                    hint='Only "BACKEND" and "OPTIONS".',
                    id="django_push.E007",
                )
            )
        try:
            cls = import_string(conf["BACKEND"])
        except ImportError as exc:
            errors.append(
                checks.Error(
                    f'{path}["BACKEND"] = {conf["BACKEND"]!r} cannot be imported: {exc}',
                    hint="Check the dotted path and that the module is installed.",
                    id="django_push.E008",
                )
            )
            continue
        options = conf.get("OPTIONS") or {}
        if not isinstance(options, dict):
            errors.append(
                checks.Error(
                    f'{path}["OPTIONS"] must be a dict.',
                    hint='e.g. "OPTIONS": {"topic": "com.example.app"}',
                    id="django_push.E006",
                )
            )
            continue
        # With applications listed, options are checked per application, where the merge is complete.
        if not _has_applications_for(alias):
            errors += _check_options(cls, options, f'{path}["OPTIONS"]')
    for platform in PUSH_PLATFORMS:  # email/sms/webhook are opt-in channels: no warning
        if platform not in backends:
            errors.append(
                checks.Warning(
                    f"No backend is configured for platform {platform!r}; its devices cannot be sent to.",
                    hint=f'Add DJANGO_PUSH["BACKENDS"]["{platform}"] (the console backend in development).',
                    id="django_push.W001",
                )
            )
    return errors


def _has_applications_for(platform: str) -> bool:
    return any(
        isinstance(c, dict) and c.get("PLATFORM") == platform for c in push_settings.APPLICATIONS.values()
    )


def _check_applications(applications: Any, backends: Any) -> list[checks.CheckMessage]:
    if not isinstance(applications, dict):
        return [
            checks.Error(
                'DJANGO_PUSH["APPLICATIONS"] must be a dict keyed by application name.',
                hint='e.g. {"ios-main": {"PLATFORM": "apns", "OPTIONS": {"topic": "com.example"}}}',
                id="django_push.E009",
            )
        ]
    errors: list[checks.CheckMessage] = []
    for name, conf in applications.items():
        path = f'DJANGO_PUSH["APPLICATIONS"]["{name}"]'
        if not isinstance(conf, dict) or conf.get("PLATFORM") not in PLATFORMS:
            errors.append(
                checks.Error(
                    f'{path} needs "PLATFORM", one of {", ".join(PLATFORMS)}.',
                    hint='e.g. {"PLATFORM": "apns", "OPTIONS": {"topic": "com.example.app"}}',
                    id="django_push.E009",
                )
            )
            continue
        unknown = set(conf) - APPLICATION_KEYS
        if unknown:
            errors.append(
                checks.Error(
                    f"{path} has unknown key(s) {', '.join(sorted(map(repr, unknown)))}.",
                    hint='Only "PLATFORM" and "OPTIONS".',
                    id="django_push.E009",
                )
            )
        backend = backends.get(conf["PLATFORM"]) if isinstance(backends, dict) else None
        if not isinstance(backend, dict) or not isinstance(backend.get("BACKEND"), str):
            continue  # reported by the backend checks (W001/E006)
        try:
            cls = import_string(backend["BACKEND"])
        except ImportError:
            continue  # E008 already
        merged = {**(backend.get("OPTIONS") or {}), **(conf.get("OPTIONS") or {})}
        errors += _check_options(cls, merged, f'{path}["OPTIONS"] (over the {conf["PLATFORM"]} backend\'s)')
    return errors


def _check_options(cls: Any, options: dict[str, Any], path: str) -> list[checks.CheckMessage]:
    try:
        cls.check_options(options, setting_path=path)
    except PushConfigurationError as exc:
        return [
            checks.Error(
                str(exc), hint="See the backend's page in docs/ for its options.", id="django_push.E011"
            )
        ]
    return []
