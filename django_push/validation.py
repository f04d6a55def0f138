"""Checks of what describes a device (locale, time zone), shared by the API and the admin.

Plain Django: each function returns the normalized value or raises
:class:`django.core.exceptions.ValidationError` with a message that says what is expected. The API's
validators (:mod:`django_push.api.validators`) turn that into DRF's ValidationError; the admin's
device form calls them as they are, so both refuse the same values and store the same spelling.
"""

from __future__ import annotations

import re
import zoneinfo

from django.core.exceptions import ValidationError

# BCP 47 as devices report it: language, optional script, optional region, optional variants.
_LOCALE = re.compile(
    r"^(?P<language>[A-Za-z]{2,3})"
    r"(?:-(?P<script>[A-Za-z]{4}))?"
    r"(?:-(?P<region>[A-Za-z]{2}|[0-9]{3}))?"
    r"(?P<variants>(?:-(?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*)$"
)
LOCALE_MAX_LENGTH = 35
TIME_ZONE_MAX_LENGTH = 64
_TIME_ZONE = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9_+\-]+)*$")


def normalize_locale(value: str) -> str:
    """``fr_ca`` → ``fr-CA``, ``ZH-hant-tw`` → ``zh-Hant-TW``: one spelling per locale, so audiences
    filtered by locale match whatever the client sent."""
    text = value.strip().replace("_", "-")
    if not text:
        return ""
    match = _LOCALE.match(text) if len(text) <= LOCALE_MAX_LENGTH else None
    if match is None:
        raise ValidationError(
            f"{value!r} is not a BCP 47 language tag such as 'fr', 'fr-CA' or 'zh-Hant-TW'.",
            code="invalid_locale",
        )
    parts = [match["language"].lower()]
    if match["script"]:
        parts.append(match["script"].title())
    if match["region"]:
        parts.append(match["region"].upper())
    if match["variants"]:
        parts.extend(v.lower() for v in match["variants"].strip("-").split("-"))
    return "-".join(parts)


def validate_time_zone(value: str) -> str:
    """An IANA name ``zoneinfo`` knows (``Europe/Paris``), stripped; not a path, not a directory."""
    name = value.strip()
    if not name:
        return ""
    error = ValidationError(
        f"{value!r} is not an IANA time zone name such as 'Europe/Paris' or 'America/New_York'.",
        code="invalid_time_zone",
    )
    if len(name) > TIME_ZONE_MAX_LENGTH or not _TIME_ZONE.match(name):
        raise error
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise error from exc
    return name
