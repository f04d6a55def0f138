"""Copy push devices from django-push-notifications or fcm-django into django_push's ``Device`` table.

Used by ``manage.py importpushdevices``; see docs/migrating.md. The source tables are read through the
source app's own models (so it must be in INSTALLED_APPS), newest row first, in keyset batches; each
batch is validated in Python and written with one ``bulk_create(ignore_conflicts=True)``. Nothing is
updated or deleted, on either side.

* **Idempotent.** A device is identified by (platform, application, SHA-256 of its address) — the
  table's unique constraint — so a second run finds every row already present and inserts nothing.
* **Newest row wins.** The incumbents allow the same token twice (two users on one phone, two app
  ids); rows are read newest first, so the owner and flags of the latest registration are kept and
  the older copies are counted as duplicates.
* **Invalid rows are counted, never imported**: a token the push service would refuse, a Web Push
  endpoint outside ``WEBPUSH_ALLOWED_HOSTS`` (the SSRF allow-list) or with unusable keys, an
  application not configured in ``DJANGO_PUSH["APPLICATIONS"]``.
* **Refused outright**: WNS devices (django_push has no WNS backend), and legacy GCM rows
  (``cloud_message_type="GCM"``) unless ``include_gcm`` — Google shut GCM down in 2019 and
  django-push-notifications itself no longer sends to them.
* **Dates**: ``registered_at`` is the source's ``date_created`` (so APNs' "unregistered since" answers
  still deactivate tokens that died before the import), ``created_at`` is the import time: the stale
  device rule (``clearpushdevices``, run daily by beat) counts from ``created_at`` for a device that
  never had a success, and must not deactivate every old device before its first push.
* Rows are written with ``bulk_create``: no ``post_save``, so model-event rules do not fire.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import connections, models, router
from django.utils import timezone

from django_push.backends.webpush_endpoints import validate_endpoint
from django_push.conf import DEFAULT_APPLICATION, PLATFORMS, push_settings
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
BATCH_SIZE = 1000
SAMPLE_IDS = 5

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


class DeviceImportError(Exception):
    """The import cannot start: the source app is missing, its tables too, or an option is wrong."""


@dataclass
class ModelReport:
    """What happened to one source model's rows (all counts are rows of the source table)."""

    model: str  # "push_notifications.APNSDevice"
    platform: str  # target platform, "" when the model is refused
    rows: int = 0
    imported: int = 0  # inserted (or, in a dry run, would be)
    already_present: int = 0  # the address was in django_push before this run
    duplicates: int = 0  # the same address came from a newer source row
    legacy_gcm: int = 0
    invalid: Counter[str] = field(default_factory=Counter)  # reason -> rows
    invalid_detail: dict[str, str] = field(default_factory=dict)  # reason -> first validator message
    invalid_ids: dict[str, list[Any]] = field(default_factory=dict)  # reason -> first source ids
    # (source application id or "", target application) -> rows, for targets not configured
    unknown_applications: Counter[tuple[str, str]] = field(default_factory=Counter)
    rebuilt_endpoints: int = 0  # legacy WebPushDevice rows whose endpoint was completed
    refused: str = ""  # why the whole model is not imported

    @property
    def skipped(self) -> int:
        return self.rows - self.imported

    def _invalid(self, reason: str, detail: str, pk: Any) -> None:
        self.invalid[reason] += 1
        self.invalid_detail.setdefault(reason, detail)
        ids = self.invalid_ids.setdefault(reason, [])
        if len(ids) < SAMPLE_IDS:
            ids.append(pk)


@dataclass
class ImportReport:
    source: str
    dry_run: bool
    models: list[ModelReport] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(m.rows for m in self.models)

    @property
    def imported(self) -> int:
        return sum(m.imported for m in self.models)


Progress = Callable[[ModelReport, int, int], None]


@dataclass(frozen=True)
class _Options:
    default_applications: dict[str, str]  # platform (or "*") -> application
    application_map: dict[str, str]
    include_gcm: bool
    apns_environment: str  # "auto", "production" or "sandbox"
    source: str


def import_devices(
    source: str,
    *,
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
    application: str | dict[str, str] = DEFAULT_APPLICATION,
    application_map: dict[str, str] | None = None,
    include_gcm: bool = False,
    apns_environment: str = "auto",
    active_only: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Import every device of ``source`` ("django-push-notifications" or "fcm-django").

    ``application`` is the target application of rows without an application id (all fcm-django
    rows): one name, or a dict per platform (``{"apns": "ios-main", "*": "default"}``);
    ``application_map`` renames source application ids. ``apns_environment="auto"`` reads
    django-push-notifications' USE_SANDBOX / APNS_USE_SANDBOX for each application.
    """
    if source not in SOURCES:
        raise DeviceImportError(f"Unknown source {source!r}; use one of: {', '.join(SOURCES)}.")
    if batch_size < 1:
        raise DeviceImportError(f"The batch size must be at least 1, not {batch_size}.")
    if apns_environment not in ("auto", "production", "sandbox"):
        raise DeviceImportError(
            f"The APNs environment is 'auto', 'production' or 'sandbox', not {apns_environment!r}."
        )
    defaults = {"*": application} if isinstance(application, str) else dict(application)
    unknown = set(defaults) - {"*", *PLATFORMS}
    if unknown:
        raise DeviceImportError(
            f"Unknown platform(s) {', '.join(sorted(unknown))} for the default application; "
            f"use {', '.join(PLATFORMS)}."
        )
    options = _Options(defaults, dict(application_map or {}), include_gcm, apns_environment, source)
    report = ImportReport(source, dry_run)
    # Rows past this id were written during the run: a match there is a duplicate, not a prior import.
    last_pk = Device.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    would_import: set[int] = set()  # dry run only: what earlier batches would have inserted
    now = timezone.now()
    for src in _source_models(source):
        _check_user_model(src.model)
        queryset = src.model._default_manager.all()
        if active_only:
            queryset = queryset.filter(active=True)
        part = ModelReport(src.model._meta.label, src.platform, rows=queryset.count())
        report.models.append(part)
        if src.convert is None:
            part.refused = NO_WNS
            continue
        done = 0
        for rows in _batches(queryset, src.fields, batch_size):
            devices, keys = [], set()
            for row in rows:
                device = src.convert(row, part, options, now)
                if device is None:
                    continue
                key = (device.platform, device.application, device.address_hash)
                if key in keys or (dry_run and hash(key) in would_import):
                    part.duplicates += 1
                    continue
                keys.add(key)
                devices.append(device)
            devices = _drop_existing(devices, part, last_pk)
            part.imported += len(devices)
            if dry_run:
                # 8 bytes a key, so memory stays small; a collision only shifts a count.
                would_import.update(hash((d.platform, d.application, d.address_hash)) for d in devices)
            elif devices:
                Device.objects.bulk_create(devices, batch_size=batch_size, ignore_conflicts=True)
            done += len(rows)
            if progress is not None:
                progress(part, done, part.rows)
    report.warnings += _configuration_warnings(report)
    return report


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


def _check_user_model(model: type[models.Model]) -> None:
    if not any(f.name == "user" for f in model._meta.get_fields()):
        return
    related = model._meta.get_field("user").related_model
    if related is not get_user_model():
        raise DeviceImportError(
            f"{model._meta.label}.user points to {related._meta.label}, but django_push devices "  # type: ignore[union-attr]
            f"belong to AUTH_USER_MODEL ({settings.AUTH_USER_MODEL}); owners cannot be copied."
        )


def _batches(queryset: models.QuerySet[Any], fields: tuple[str, ...], size: int) -> Iterator[list[dict]]:
    """Keyset pages, newest (highest pk) first: one indexed query per page, flat memory."""
    page = queryset.order_by("-pk").values(*fields)
    last = None
    while True:
        rows = list((page if last is None else page.filter(pk__lt=last))[:size])
        if rows:
            yield rows
        if len(rows) < size:
            return
        last = rows[-1]["pk"]


def _drop_existing(devices: list[Device], part: ModelReport, last_pk: int) -> list[Device]:
    """Remove devices already in django_push (one query per batch); the rest are new.

    A match written by this run (an older source row with the same address as one imported from an
    earlier batch) counts as a duplicate; one that was there before, as already present.
    """
    if not devices:
        return devices
    present = {
        (application, digest): pk
        for application, digest, pk in Device.objects.filter(
            platform=devices[0].platform, address_hash__in={d.address_hash for d in devices}
        ).values_list("application", "address_hash", "pk")
    }
    new = []
    for device in devices:
        pk = present.get((device.application, device.address_hash))
        if pk is None:
            new.append(device)
        elif pk > last_pk:
            part.duplicates += 1
        else:
            part.already_present += 1
    return new


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


# Report --------------------------------------------------------------------------------------------------


def _configuration_warnings(report: ImportReport) -> list[str]:
    warnings = []
    backends = push_settings.BACKENDS
    for platform in sorted({m.platform for m in report.models if m.imported and m.platform}):
        if platform not in backends:
            warnings.append(
                f'DJANGO_PUSH["BACKENDS"] has no {platform!r} backend yet: the imported {platform} devices '
                "cannot be sent to until it is configured (docs/migrating.md)."
            )
    for part in report.models:
        known = ", ".join(push_settings.applications_for(part.platform))
        for (source_id, application), count in sorted(part.unknown_applications.items()):
            if source_id:
                rows, fix = f"with application id {source_id!r}", f"--application-map {source_id}=NAME"
            else:
                rows, fix = "without an application id", f"--application {part.platform}=NAME"
            warnings.append(
                f"{count:,} {part.model} row(s) {rows} were not imported: their application "
                f'{application!r} is not configured for {part.platform} in DJANGO_PUSH["APPLICATIONS"] '
                f"(configured: {known}). Add it, or import them into a configured one with {fix}, and run "
                "the import again."
            )
    return warnings
