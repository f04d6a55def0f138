"""Live, typed reads of ``settings.DJANGO_PUSH`` over :data:`DEFAULTS`.

Nothing is read at import time, so ``override_settings(DJANGO_PUSH=...)`` just works: every attribute
access on :data:`push_settings` looks at the current settings.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

PLATFORMS: tuple[str, ...] = ("apns", "fcm", "webpush")
DEFAULT_APPLICATION = "default"

DEFAULT_WEBPUSH_ALLOWED_HOSTS: tuple[str, ...] = (
    "fcm.googleapis.com",
    "updates.push.services.mozilla.com",
    "push.services.mozilla.com",
    "web.push.apple.com",
    "*.notify.windows.com",
)

DEFAULTS: dict[str, Any] = {
    # alias (= platform) -> {"BACKEND": dotted path, "OPTIONS": {...}}
    "BACKENDS": {},
    # application name -> {"PLATFORM": "apns"|"fcm"|"webpush", "OPTIONS": {...}} merged over the
    # platform backend's OPTIONS. A platform with no application listed has one: "default".
    "APPLICATIONS": {},
    "CHUNK_SIZE": 500,
    "MAX_ATTEMPTS": 5,
    "RETRY_BACKOFF_BASE": 2.0,
    "RETRY_BACKOFF_MAX": 600.0,
    # In eager mode (no broker) retries sleep in-process, at most this long in total per chunk.
    "EAGER_RETRY_MAX_WAIT": 30.0,
    "FAILURE_THRESHOLD": 3,
    # A delivery claimed longer ago than this is taken to belong to a crashed worker and is resent.
    "IN_FLIGHT_TIMEOUT": 300,
    # Dotted paths of callables (notification, devices) -> {device_id: Skip | Hold} (see filters.py).
    "DELIVERY_FILTERS": [],
    # Dotted path of a callable (notification, device) -> PushMessage; None: the same for everyone.
    "MESSAGE_RENDERER": None,
    "STALE_DEVICE_DAYS": 270,
    "DELIVERY_RETENTION_DAYS": 90,
    "WEBPUSH_ALLOWED_HOSTS": list(DEFAULT_WEBPUSH_ALLOWED_HOSTS),
    "WEBPUSH_DEFAULT_TTL": 86400,
    "VAPID_PUBLIC_KEY": "",
    "USE_CELERY": None,  # None: use Celery unless it is configured to run eagerly
    "CELERY_QUEUE": None,
    "API_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "API_THROTTLE_RATE": "60/min",
    "ALLOW_ANONYMOUS_WEBPUSH": False,
    "EVENT_RULES": [],
    # False switches every model-event rule off (django_push.events; tests, data imports).
    "EVENTS_ENABLED": True,
    # name -> {"priority", "channels", "ttl", "collapse_key", "required", "rate_limit", "label",
    # "description"} merged over the built-in types (django_push.notification_types); None removes one.
    "NOTIFICATION_TYPES": {},
    # Cache alias of the per-user rate-limit counters (django_push.delivery_filters.rate_limits).
    "RATE_LIMIT_CACHE": "default",
}


class PushSettings:
    """Attribute access to DJANGO_PUSH with defaults; re-reads settings on every access."""

    @property
    def user_settings(self) -> dict[str, Any]:
        value = getattr(settings, "DJANGO_PUSH", {})
        return value if isinstance(value, dict) else {}

    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"DJANGO_PUSH has no setting {name!r}")
        return self.user_settings.get(name, DEFAULTS[name])

    # Typed accessors for the settings the hot path reads.
    @property
    def BACKENDS(self) -> dict[str, dict[str, Any]]:
        return dict(self.user_settings.get("BACKENDS", DEFAULTS["BACKENDS"]))

    @property
    def APPLICATIONS(self) -> dict[str, dict[str, Any]]:
        return dict(self.user_settings.get("APPLICATIONS", DEFAULTS["APPLICATIONS"]))

    @property
    def CHUNK_SIZE(self) -> int:
        return int(self.user_settings.get("CHUNK_SIZE", DEFAULTS["CHUNK_SIZE"]))

    @property
    def MAX_ATTEMPTS(self) -> int:
        return int(self.user_settings.get("MAX_ATTEMPTS", DEFAULTS["MAX_ATTEMPTS"]))

    @property
    def FAILURE_THRESHOLD(self) -> int:
        return int(self.user_settings.get("FAILURE_THRESHOLD", DEFAULTS["FAILURE_THRESHOLD"]))

    def applications_for(self, platform: str) -> list[str]:
        """Application names configured for ``platform`` ("default" when none is listed)."""
        names = [
            name
            for name, conf in self.APPLICATIONS.items()
            if isinstance(conf, dict) and conf.get("PLATFORM") == platform
        ]
        return names or [DEFAULT_APPLICATION]

    def is_known_application(self, platform: str, application: str) -> bool:
        return application in self.applications_for(platform)


push_settings = PushSettings()
