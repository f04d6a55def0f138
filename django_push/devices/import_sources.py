"""How each incumbent's rows become ``Device`` rows, for ``django_push.devices.importing``: the source
models of django-push-notifications and fcm-django, one converter per model (validated with the
registration rules; a refused row is counted in the ModelReport, never imported), and
django-push-notifications' own settings where a row needs them (APNs environment, old Web Push URLs).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connections, models, router

from django_push.backends.webpush_endpoints import validate_endpoint
from django_push.conf import DEFAULT_APPLICATION, push_settings
from django_push.devices.import_reports import DeviceImportError, ModelReport
from django_push.exceptions import InvalidTarget
from django_push.models import Device, Platform

# The registration rules, so an import admits nothing a client could not register.
from django_push.validation import (
    normalize_apns_token,
    validate_auth_secret,
    validate_fcm_token,
    validate_p256dh,
)

DPN = "django-push-notifications"
FCM_DJANGO = "fcm-django"
SOURCES = (DPN, FCM_DJANGO)

# django-push-notifications' default WP_POST_URL: a WebPushDevice registered by its old JavaScript
# stored only the last path segment of the endpoint, and the browser picked the push service.
DPN_WP_POST_URL = {
    "CHROME": "https://fcm.googleapis.com/fcm/send",
    "OPERA": "https://fcm.googleapis.com/fcm/send",
    "FIREFOX": "https://updates.push.services.mozilla.com/wpush/v2",
    "EDGE": "https://wns2-par02p.notify.windows.com/w",
    "SAFARI": "https://web.push.apple.com",
}

NO_WNS = (
    "django_push has no WNS (Windows Notification Service) backend, so these rows were not imported. "
    "Edge and other browsers on Windows subscribe through Web Push (WebPushDevice), which is imported."
)
LEGACY_GCM = (
    "legacy GCM registration (cloud_message_type='GCM'): GCM was shut down in 2019 and "
    "django-push-notifications no longer sends to these; --include-gcm imports them as FCM tokens"
)
APNS_INVALID = "not an APNs device token (64 hexadecimal characters)"
FCM_INVALID = "not an FCM registration token"
ENDPOINT_INVALID = "Web Push endpoint refused (WEBPUSH_ALLOWED_HOSTS / SSRF rules)"
KEYS_INVALID = "Web Push subscription keys unusable (p256dh / auth)"


@dataclass(frozen=True)
class _Options:
    default_applications: dict[str, str]  # platform (or "*") -> application
    application_map: dict[str, str]
    include_gcm: bool
    apns_environment: str  # "auto", "production" or "sandbox"
    source: str


# Sources ---------------------------------------------------------------------------------------------

Converter = Callable[[dict[str, Any], ModelReport, _Options, datetime], Device | None]
COMMON = ("pk", "registration_id", "name", "active", "user_id", "date_created")


@dataclass(frozen=True)
class _Source:
    model: type[models.Model]
    platform: str  # "" when the model is refused as a whole
    convert: Converter | None = None
    fields: tuple[str, ...] = ()


def _source_models(source: str) -> list[_Source]:
    if source == DPN:
        _require_app("push_notifications", DPN)
        dpn_common = (*COMMON, "application_id")
        found = [
            _Source(_model("push_notifications.APNSDevice"), Platform.APNS.value, _dpn_apns, dpn_common),
            _Source(
                _model("push_notifications.GCMDevice"),
                Platform.FCM.value,
                _dpn_gcm,
                (*dpn_common, "cloud_message_type"),
            ),
            _Source(
                _model("push_notifications.WebPushDevice"),
                Platform.WEBPUSH.value,
                _dpn_webpush,
                (*dpn_common, "p256dh", "auth", "browser"),
            ),
            _Source(_model("push_notifications.WNSDevice"), ""),
        ]
    else:
        _require_app("fcm_django", FCM_DJANGO)
        label = getattr(settings, "FCM_DJANGO_FCMDEVICE_MODEL", "fcm_django.FCMDevice")  # swappable
        found = [_Source(_model(label), Platform.FCM.value, _fcm_django, COMMON)]
    _require_tables([s.model for s in found], source)
    return found


def _model(label: str) -> type[models.Model]:
    return apps.get_model(label)


def _require_app(label: str, package: str) -> None:
    if not apps.is_installed(label):
        raise DeviceImportError(
            f"{package} is not installed in this project: add {label!r} to INSTALLED_APPS (with the "
            f"{package} package installed) so its device tables can be read, then run this again. "
            "Keep it there until the import is done; nothing is sent through it."
        )


def _require_tables(source_models: list[type[models.Model]], source: str) -> None:
    alias = router.db_for_read(source_models[0])
    tables = set(connections[alias].introspection.table_names())
    missing = [m._meta.db_table for m in source_models if m._meta.db_table not in tables]
    if missing:
        raise DeviceImportError(
            f"The {source} table(s) {', '.join(missing)} do not exist in database {alias!r}: run "
            "this where the incumbent's data is (and its migrations have run)."
        )


# Row converters ----------------------------------------------------------------------------------------


def _address_hash(address: str) -> str:
    # Device.save() computes the same; bulk_create does not call save().
    return hashlib.sha256(address.encode("utf-8")).hexdigest()


def _target_application(source_id: str, platform: str, options: _Options) -> str:
    if source_id in options.application_map:
        return options.application_map[source_id]
    defaults = options.default_applications
    return source_id or defaults.get(platform) or defaults.get("*") or DEFAULT_APPLICATION


def _device(
    row: dict[str, Any],
    part: ModelReport,
    options: _Options,
    now: datetime,
    platform: str,
    address: str,
    **extra: Any,
) -> Device | None:
    source_id = row.get("application_id") or ""
    application = _target_application(source_id, platform, options)
    if not push_settings.is_known_application(platform, application):
        part.unknown_applications[source_id, application] += 1
        return None
    active = bool(row["active"])
    return Device(
        platform=platform,
        application=application,
        owner_id=row["user_id"],
        address=address,
        address_hash=_address_hash(address),
        name=(row["name"] or "")[:255],
        active=active,
        created_at=now,
        registered_at=row["date_created"] or now,
        deactivated_at=None if active else now,
        deactivation_reason="" if active else f"inactive in {options.source} when imported",
        **extra,
    )


def _checked(check: Callable[[str], str], value: str | None) -> tuple[str | None, str]:
    """(normalized value, "") or (None, the validator's message)."""
    try:
        return check(value or ""), ""
    except ValidationError as exc:
        return None, str(exc.messages[0] if exc.messages else exc)
    except InvalidTarget as exc:
        return None, str(exc)


def _dpn_apns(row: dict[str, Any], part: ModelReport, options: _Options, now: datetime) -> Device | None:
    token, error = _checked(normalize_apns_token, row["registration_id"])
    if token is None:
        part._invalid(APNS_INVALID, error, row["pk"])
        return None
    environment = _apns_environment(row.get("application_id"), options)
    return _device(row, part, options, now, Platform.APNS.value, token, environment=environment)


def _dpn_gcm(row: dict[str, Any], part: ModelReport, options: _Options, now: datetime) -> Device | None:
    if row["cloud_message_type"] == "GCM" and not options.include_gcm:
        part.legacy_gcm += 1
        return None
    return _fcm(row, part, options, now)


def _fcm_django(row: dict[str, Any], part: ModelReport, options: _Options, now: datetime) -> Device | None:
    # type "ios" and "web" rows hold FCM registration tokens too: they are sent through FCM.
    return _fcm(row, part, options, now)


def _fcm(row: dict[str, Any], part: ModelReport, options: _Options, now: datetime) -> Device | None:
    token, error = _checked(validate_fcm_token, row["registration_id"])
    if token is None:
        part._invalid(FCM_INVALID, error, row["pk"])
        return None
    return _device(row, part, options, now, Platform.FCM.value, token)


def _dpn_webpush(row: dict[str, Any], part: ModelReport, options: _Options, now: datetime) -> Device | None:
    registration = (row["registration_id"] or "").strip()
    if registration and not registration.startswith("https://"):
        base = _dpn_wp_post_url(row.get("application_id"), row["browser"])
        if base:
            registration = f"{base.rstrip('/')}/{registration}"
            part.rebuilt_endpoints += 1
    endpoint, error = _checked(validate_endpoint, registration)
    if endpoint is None:
        part._invalid(ENDPOINT_INVALID, error, row["pk"])
        return None
    p256dh, error = _checked(validate_p256dh, row["p256dh"])
    auth, auth_error = _checked(validate_auth_secret, row["auth"])
    if p256dh is None or auth is None:
        part._invalid(KEYS_INVALID, error or auth_error, row["pk"])
        return None
    return _device(row, part, options, now, Platform.WEBPUSH.value, endpoint, p256dh=p256dh, auth=auth)


# django-push-notifications settings --------------------------------------------------------------------


def _dpn_settings() -> dict[str, Any]:
    value = getattr(settings, "PUSH_NOTIFICATIONS_SETTINGS", None)
    return value if isinstance(value, dict) else {}


def _dpn_app_settings(application_id: str | None) -> dict[str, Any] | None:
    apps_conf = _dpn_settings().get("APPLICATIONS") or {}
    conf = apps_conf.get(application_id) if application_id else None
    return conf if isinstance(conf, dict) else None


def _apns_environment(application_id: str | None, options: _Options) -> str:
    if options.apns_environment != "auto":
        return options.apns_environment
    app_conf = _dpn_app_settings(application_id)
    if app_conf is not None:
        sandbox = app_conf.get("USE_SANDBOX", False)
    else:  # django-push-notifications' legacy settings: APNS_USE_SANDBOX, which defaults to DEBUG
        sandbox = _dpn_settings().get("APNS_USE_SANDBOX", settings.DEBUG)
    return "sandbox" if sandbox else "production"


def _dpn_wp_post_url(application_id: str | None, browser: str | None) -> str:
    app_conf = _dpn_app_settings(application_id)
    urls = (app_conf or {}).get("POST_URL") or _dpn_settings().get("WP_POST_URL") or DPN_WP_POST_URL
    return str(urls.get((browser or "CHROME").upper(), "") if isinstance(urls, dict) else "")
