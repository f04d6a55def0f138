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

This module is the run (options, batches, what is already there, warnings); ``import_sources`` turns
each incumbent's rows into Devices and ``import_reports`` holds the counts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models
from django.utils import timezone

from django_push.conf import DEFAULT_APPLICATION, PLATFORMS, push_settings
from django_push.devices.import_reports import DeviceImportError, ImportReport, ModelReport
from django_push.devices.import_sources import (
    DPN,
    FCM_DJANGO,
    LEGACY_GCM,
    NO_WNS,
    SOURCES,
    _Options,
    _source_models,
)
from django_push.models import Device

__all__ = [
    "BATCH_SIZE",
    "DPN",
    "FCM_DJANGO",
    "LEGACY_GCM",
    "SOURCES",
    "DeviceImportError",
    "ImportReport",
    "ModelReport",
    "Progress",
    "import_devices",
]

BATCH_SIZE = 1000


Progress = Callable[[ModelReport, int, int], None]


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
