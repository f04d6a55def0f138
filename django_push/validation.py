"""What a device may be registered with: tokens, Web Push endpoints and keys, locale, time zone,
application. One set of rules for every way in (the API, the admin, ``importpushdevices``, a site's own
code).

Plain Django: each function returns the normalized value or raises
:class:`django.core.exceptions.ValidationError` with a message that says what is wrong and what is
expected. The API's validators (:mod:`django_push.api.validators`) turn that into DRF's
ValidationError; the admin and the import command call them as they are.

A bad token stored now is a failed send (and a wasted HTTP/2 stream) later, so what a push service
would refuse anyway is refused at the moment the client can still fix it. The checks stay loose where
the services document no format (FCM) and strict where they do (APNs, Web Push keys).
"""

from __future__ import annotations

import base64
import binascii
import re
import zoneinfo

from django.core.exceptions import ValidationError
from django.utils.translation import gettext, gettext_lazy

from django_push.conf import push_settings

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


APNS_TOKEN_LENGTH = 64
_HEX = re.compile(r"^[0-9a-fA-F]+$")

# Google documents no FCM token format and asks servers not to over-validate, so this allows the
# URL-safe alphabet real tokens use ("<instance id>:APA91b…") plus '.', between generous bounds.
FCM_TOKEN_MIN_LENGTH = 32
FCM_TOKEN_MAX_LENGTH = 4096
_FCM_TOKEN = re.compile(r"^[A-Za-z0-9_:.\-]+$")

P256DH_LENGTH = 65  # an uncompressed P-256 point: 0x04 || X (32 bytes) || Y (32 bytes)
AUTH_SECRET_LENGTH = 16


def normalize_apns_token(value: str) -> str:
    """An APNs token is 32 bytes in hex; APNs itself compares case-insensitively, we store lower case."""
    token = value.strip()
    if len(token) != APNS_TOKEN_LENGTH:
        raise ValidationError(
            gettext(
                "An APNs device token is exactly %(length)d hexadecimal characters; got %(got)d characters."
            )
            % {"length": APNS_TOKEN_LENGTH, "got": len(token)}
        )
    if not _HEX.match(token):
        raise ValidationError(
            gettext("An APNs device token contains only hexadecimal characters (0-9, a-f).")
        )
    return token.lower()


def validate_fcm_token(value: str) -> str:
    token = value.strip()
    if not FCM_TOKEN_MIN_LENGTH <= len(token) <= FCM_TOKEN_MAX_LENGTH:
        raise ValidationError(
            gettext("An FCM registration token is %(min)d to %(max)d characters long; got %(got)d.")
            % {"min": FCM_TOKEN_MIN_LENGTH, "max": FCM_TOKEN_MAX_LENGTH, "got": len(token)}
        )
    if not _FCM_TOKEN.match(token):
        raise ValidationError(
            gettext(
                "An FCM registration token contains only letters, digits and the characters "
                "'_', '-', ':' and '.'."
            )
        )
    return token


def validate_webpush_endpoint(value: str) -> str:
    """Allow-listed https push service URL (see :mod:`django_push.backends.webpush_endpoints`), normalized."""
    from django_push.backends.webpush_endpoints import validate_endpoint
    from django_push.exceptions import InvalidTarget

    try:
        return validate_endpoint(value, push_settings.WEBPUSH_ALLOWED_HOSTS)
    except InvalidTarget as exc:
        raise ValidationError(str(exc)) from exc


# (not base64url alphabet, not decodable) per key: whole sentences, so that translations can agree.
_B64URL_ERRORS = {
    "p256dh": (
        gettext_lazy("The p256dh key must be base64url-encoded (letters, digits, '-' and '_')."),
        gettext_lazy("The p256dh key is not valid base64url."),
    ),
    "auth": (
        gettext_lazy("The auth secret must be base64url-encoded (letters, digits, '-' and '_')."),
        gettext_lazy("The auth secret is not valid base64url."),
    ),
}


def _b64url_decode(value: str, key: str) -> bytes:
    not_alphabet, not_decodable = _B64URL_ERRORS[key]
    text = value.strip()
    if not re.fullmatch(r"[A-Za-z0-9_\-]*={0,2}", text):
        raise ValidationError(str(not_alphabet))
    text = text.rstrip("=")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValidationError(str(not_decodable)) from exc


def _b64url_encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def validate_p256dh(value: str) -> str:
    """The browser's ECDH public key; a bad one would make every message undecryptable, so check the
    point is really on P-256 rather than just the right length."""
    from cryptography.hazmat.primitives.asymmetric import ec

    raw = _b64url_decode(value, "p256dh")
    if len(raw) != P256DH_LENGTH:
        raise ValidationError(
            gettext(
                "The p256dh key must decode to %(length)d bytes (an uncompressed P-256 point); "
                "got %(got)d bytes."
            )
            % {"length": P256DH_LENGTH, "got": len(raw)}
        )
    if raw[0] != 0x04:
        raise ValidationError(
            gettext("The p256dh key must be an uncompressed P-256 point (first byte 0x04).")
        )
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    except ValueError as exc:
        raise ValidationError(gettext("The p256dh key is not a point on the P-256 curve.")) from exc
    return _b64url_encode(raw)


def validate_auth_secret(value: str) -> str:
    raw = _b64url_decode(value, "auth")
    if len(raw) != AUTH_SECRET_LENGTH:
        raise ValidationError(
            gettext("The auth secret must decode to %(length)d bytes; got %(got)d bytes.")
            % {"length": AUTH_SECRET_LENGTH, "got": len(raw)}
        )
    return _b64url_encode(raw)


def validate_application(platform: str, application: str) -> None:
    if not push_settings.is_known_application(platform, application):
        known = ", ".join(push_settings.applications_for(platform))
        raise ValidationError(
            gettext(
                "Unknown application %(application)s for %(platform)s; configured applications: %(known)s."
            )
            % {"application": repr(application), "platform": platform, "known": known}
        )


# ActivityKit tokens (push-to-start and update) are hex like device tokens, but longer (80 bytes today)
# and Apple documents no fixed length: bounded, even, hexadecimal.
ACTIVITY_TOKEN_MIN_LENGTH = 64
ACTIVITY_TOKEN_MAX_LENGTH = 512
ACTIVITY_FIELD_MAX_LENGTH = 200
_ACTIVITY_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
LIVE_ACTIVITY_KINDS = ("liveactivity_start", "liveactivity_update")


def normalize_activity_token(value: str) -> str:
    """An ActivityKit push token (push-to-start or update), hex, stored lower case."""
    token = value.strip()
    if not (ACTIVITY_TOKEN_MIN_LENGTH <= len(token) <= ACTIVITY_TOKEN_MAX_LENGTH) or len(token) % 2:
        raise ValidationError(
            gettext(
                "A Live Activity token is an even number of hexadecimal characters, %(min)d to %(max)d; "
                "got %(got)d characters."
            )
            % {"min": ACTIVITY_TOKEN_MIN_LENGTH, "max": ACTIVITY_TOKEN_MAX_LENGTH, "got": len(token)}
        )
    if not _HEX.match(token):
        raise ValidationError(
            gettext("A Live Activity token contains only hexadecimal characters (0-9, a-f).")
        )
    return token.lower()


def validate_activity_kind(platform: str, kind: str, activity_type: str, activity_id: str) -> dict[str, str]:
    """The activity fields a registration of ``kind`` must carry, checked together.

    A push-to-start token is per app install and activity type; an update token per running activity,
    so it needs the activity's id too. Device tokens carry neither. Returns the stripped
    ``{"activity_type", "activity_id"}``; raises ValidationError with a message per field."""
    activity_type, activity_id = activity_type.strip(), activity_id.strip()
    errors: dict[str, str] = {}
    if kind in LIVE_ACTIVITY_KINDS:
        if platform != "apns":
            errors["kind"] = gettext(
                "Live Activity tokens are APNs tokens: register them with platform apns."
            )
        if not activity_type:
            errors["activity_type"] = gettext(
                "Live Activity tokens need the activity type: the app's ActivityAttributes type, "
                "e.g. 'MatchAttributes'."
            )
        elif len(activity_type) > ACTIVITY_FIELD_MAX_LENGTH or not _ACTIVITY_NAME.match(activity_type):
            errors["activity_type"] = gettext(
                "The activity type is a Swift type name such as 'MatchAttributes' "
                "(letters, digits, '_' and '.')."
            )
        if kind == "liveactivity_update" and not activity_id:
            errors["activity_id"] = gettext(
                "An update token needs the id of the activity it updates (Activity.id)."
            )
        elif kind == "liveactivity_start" and activity_id:
            errors["activity_id"] = gettext(
                "A push-to-start token belongs to no activity yet: leave activity_id out."
            )
        elif len(activity_id) > ACTIVITY_FIELD_MAX_LENGTH:
            errors["activity_id"] = gettext("The activity id is at most %(max)d characters.") % {
                "max": ACTIVITY_FIELD_MAX_LENGTH
            }
    elif activity_type or activity_id:
        field = "activity_type" if activity_type else "activity_id"
        errors[field] = gettext("Only Live Activity tokens have an activity type or id; leave it out.")
    if errors:
        raise ValidationError({k: [v] for k, v in errors.items()})
    return {"activity_type": activity_type, "activity_id": activity_id}


_PHONE_SEPARATORS = re.compile(r"[\s().\-/]")
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


def validate_phone_number(value: str) -> str:
    """A phone number in E.164 (``+33612345678``): separators (spaces, dots, dashes, parentheses) are
    dropped and a ``00`` international prefix becomes ``+``. SMS providers want E.164 and bill a
    failed attempt, so a number without its country code is refused here, not at send time."""
    text = _PHONE_SEPARATORS.sub("", str(value or "").strip())
    if text.startswith("00"):
        text = "+" + text[2:]
    if not _E164.match(text):
        raise ValidationError(
            gettext_lazy(
                "%(value)r is not an E.164 phone number: '+', the country code, then the number, "
                "7 to 15 digits in all, e.g. '+14155550123'."
            ),
            code="invalid_phone_number",
            params={"value": str(value)[:40]},
        )
    return text
