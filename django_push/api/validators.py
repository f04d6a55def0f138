"""The registration API's validators: :mod:`django_push.validation`'s rules, raising DRF's
``ValidationError`` (a 400 with the field's message) instead of Django's."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework.exceptions import ValidationError

from django_push import validation
from django_push.validation import LOCALE_MAX_LENGTH, TIME_ZONE_MAX_LENGTH

__all__ = [
    "LOCALE_MAX_LENGTH",
    "TIME_ZONE_MAX_LENGTH",
    "normalize_activity_token",
    "normalize_apns_token",
    "normalize_locale",
    "validate_application",
    "validate_auth_secret",
    "validate_fcm_token",
    "validate_p256dh",
    "validate_time_zone",
    "validate_webpush_endpoint",
]


def _drf(func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(*args: Any) -> Any:
        try:
            return func(*args)
        except DjangoValidationError as exc:
            raise ValidationError(exc.messages) from exc

    return wrapper


normalize_apns_token = _drf(validation.normalize_apns_token)
normalize_activity_token = _drf(validation.normalize_activity_token)
validate_fcm_token = _drf(validation.validate_fcm_token)
validate_webpush_endpoint = _drf(validation.validate_webpush_endpoint)
validate_p256dh = _drf(validation.validate_p256dh)
validate_auth_secret = _drf(validation.validate_auth_secret)
normalize_locale = _drf(validation.normalize_locale)
validate_time_zone = _drf(validation.validate_time_zone)
validate_application = _drf(validation.validate_application)
