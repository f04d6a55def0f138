"""Live, typed reads of ``settings.DJANGO_PUSH`` over :data:`DEFAULTS`.

Nothing is read at import time, so ``override_settings(DJANGO_PUSH=...)`` just works: every attribute
access on :data:`push_settings` looks at the current settings.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

#: Push services: each needs a configured backend (system check W001 otherwise).
PUSH_PLATFORMS: tuple[str, ...] = ("apns", "fcm", "webpush")
#: Channels beyond push whose addresses are Device rows too (docs/channels.md). Opt-in: no check
#: warns when one has no backend; email falls back to Django's own EMAIL_BACKEND.
CHANNEL_PLATFORMS: tuple[str, ...] = ("email", "sms", "webhook")
PLATFORMS: tuple[str, ...] = PUSH_PLATFORMS + CHANNEL_PLATFORMS
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
    # Chunks per Celery task: a worker process runs a task's chunks pipelined (the database work of
    # one overlaps the sends of the others), so one process keeps the wire full; 1 is one chunk a task.
    "CHUNKS_PER_TASK": 4,
    # Transient failures (429, 5xx, timeouts) are retried with backoff for this many seconds after the
    # delivery was planned; then it is marked failed (or unknown, when it may have been delivered).
    "RETRY_BUDGET": 900.0,
    # An optional cap on attempts as well (None: the time budget alone decides). A request the service
    # provably never processed (GOAWAY, REFUSED_STREAM, no connection) costs no attempt.
    "MAX_ATTEMPTS": None,
    "RETRY_BACKOFF_BASE": 2.0,
    "RETRY_BACKOFF_MAX": 300.0,
    # In eager mode (no broker) retries sleep in-process, at most this long in total per chunk.
    "EAGER_RETRY_MAX_WAIT": 30.0,
    "FAILURE_THRESHOLD": 3,
    # A delivery claimed longer ago than this is taken to belong to a crashed worker and is resent
    # (collapse-keyed) or, under the at-most-once policy, recorded unknown. Keep it above the backends'
    # read timeout (30 s by default).
    "IN_FLIGHT_TIMEOUT": 90,
    # Planned deliveries not started this long after planning, while their notification made no
    # progress for as long, are requeued by send_due (a worker died with them prefetched).
    "SWEEP_GRACE": 60,
    # Dotted paths of callables (notification, devices) -> {device_id: Skip | Hold} (see filters.py).
    "DELIVERY_FILTERS": [],
    # Dotted path of a callable (notification, device) -> PushMessage; None: the same for everyone.
    "MESSAGE_RENDERER": None,
    "STALE_DEVICE_DAYS": 270,
    "DELIVERY_RETENTION_DAYS": 90,
    "WEBPUSH_ALLOWED_HOSTS": list(DEFAULT_WEBPUSH_ALLOWED_HOSTS),
    "WEBPUSH_DEFAULT_TTL": 86400,
    # Webhooks (docs/webhooks.md): hosts that may resolve to private/loopback addresses (a local
    # receiver), e.g. ["127.0.0.1:8443"]; users' own endpoints through the API; when to disable an
    # endpoint (both: this many failed attempts in a row, the first this many seconds ago).
    "WEBHOOK_ALLOWED_PRIVATE_HOSTS": [],
    "WEBHOOKS_USER_API": False,
    "WEBHOOK_DISABLE_AFTER_FAILURES": 15,
    "WEBHOOK_DISABLE_AFTER_SECONDS": 5 * 86400,
    # How long the previous secret stays valid after a rotation (both sign every delivery meanwhile).
    "WEBHOOK_SECRET_OVERLAP_SECONDS": 86400,
    "VAPID_PUBLIC_KEY": "",
    "USE_CELERY": None,  # None: use Celery unless it is configured to run eagerly
    "CELERY_QUEUE": None,
    "API_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "API_THROTTLE_RATE": "60/min",
    "ALLOW_ANONYMOUS_WEBPUSH": False,
    "EVENT_RULES": [],
    # False switches every model-event rule off (django_push.compose.events; tests, data imports).
    "EVENTS_ENABLED": True,
    # name -> {"priority", "channels", "ttl", "collapse_key", "required", "rate_limit", "label",
    # "description"} merged over the built-in types (django_push.compose.types); None removes one.
    "NOTIFICATION_TYPES": {},
    # Dotted path of f(user) -> str | None: a user's e-mail address (None: ``user.email``).
    "EMAIL_ADDRESS_RESOLVER": None,
    # Dotted path of f(user) -> str | None: a user's phone number, validated as E.164 (None: no SMS).
    "PHONE_NUMBER_RESOLVER": None,
    # How long an unsubscribe link in an e-mail stays valid, in seconds (default 60 days).
    "UNSUBSCRIBE_MAX_AGE": 60 * 86400,
    # Optional mailto: address added to List-Unsubscribe (e.g. "unsubscribe@example.com").
    "UNSUBSCRIBE_MAILTO": "",
    # Absolute base of the unsubscribe links in e-mails, e.g. "https://example.com" (no trailing /).
    "SITE_URL": "",
    # Dotted path of a callable (notification, device) -> PushMessage for e-mail addresses.
    "EMAIL_RENDERER": "django_push.compose.email.render",
    # Cache alias of the per-user rate-limit counters (django_push.compose.policies.rate_limits).
    "RATE_LIMIT_CACHE": "default",
    # Keep FCM's own topics in sync with local Subscriptions of FCM devices (Instance ID batchAdd/
    # batchRemove; django_push.dispatch.topic_sync), so a topic audience can go as one FCM topic send.
    "FCM_TOPIC_SYNC": False,
    # Engagement (django_push.dispatch.engagement): every push carries a signed delivery reference
    # that the app or service worker reports opens and clicks with; it is accepted for MAX_AGE seconds.
    "ENGAGEMENT_TRACKING": True,
    "ENGAGEMENT_MAX_AGE": 30 * 86400,
    "ENGAGEMENT_THROTTLE_RATE": "120/min",
}


#: Settings whose values are dotted paths (or lists of them), resolved by :meth:`PushSettings.imported`.
DOTTED_PATH_SETTINGS = (
    "DELIVERY_FILTERS",
    "MESSAGE_RENDERER",
    "EVENT_RULES",
    "API_PERMISSION_CLASSES",
    "EMAIL_ADDRESS_RESOLVER",
    "PHONE_NUMBER_RESOLVER",
    "EMAIL_RENDERER",
)
#: Dotted paths that moved in 0.2 (CHANGELOG, "Breaking"): the error names the new spelling.
MOVED_PATHS = {
    "django_push.delivery_filters.": "django_push.compose.policies.",
    "django_push.rendering.": "django_push.compose.rendering.",
    "django_push.notification_types.": "django_push.compose.types.",
    "django_push.events.": "django_push.compose.events.",
}


class PushSettings:
    """Attribute access to DJANGO_PUSH with defaults; re-reads settings on every access.

    The only reader of ``settings.DJANGO_PUSH``: every module (checks and the testing helpers
    included) goes through here, and dotted-path settings are resolved here (:meth:`imported`).
    """

    @property
    def raw(self) -> Any:
        """``settings.DJANGO_PUSH`` as written (possibly not a dict: the checks say so)."""
        return getattr(settings, "DJANGO_PUSH", {})

    @property
    def user_settings(self) -> dict[str, Any]:
        value = self.raw
        return value if isinstance(value, dict) else {}

    def imported(self, name: str) -> Any:
        """The objects a dotted-path setting names: a list for list settings, else one or None.

        Values may also be the objects themselves. A path that does not import raises
        :class:`~django_push.exceptions.PushConfigurationError` naming the setting.
        """
        value = getattr(self, name)
        if isinstance(value, list | tuple):
            return [_import(f'DJANGO_PUSH["{name}"][{i}]', item) for i, item in enumerate(value)]
        return None if value in (None, "") else _import(f'DJANGO_PUSH["{name}"]', value)

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
    def CHUNKS_PER_TASK(self) -> int:
        return int(self.user_settings.get("CHUNKS_PER_TASK", DEFAULTS["CHUNKS_PER_TASK"]))

    @property
    def MAX_ATTEMPTS(self) -> int | None:
        value = self.user_settings.get("MAX_ATTEMPTS", DEFAULTS["MAX_ATTEMPTS"])
        return None if value is None else int(value)

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


def _import(where: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    return _import_path(where, value)


@lru_cache(maxsize=256)
def _import_path(where: str, path: str) -> Any:
    from django_push.exceptions import PushConfigurationError

    try:
        return import_string(path)
    except ImportError as exc:
        hint = ""
        for old, new in MOVED_PATHS.items():
            if path.startswith(old):
                hint = f" It moved: use {new + path[len(old) :]!r}."
        raise PushConfigurationError(f"{where} = {path!r} cannot be imported: {exc}.{hint}") from exc
