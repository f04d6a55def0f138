"""The registration throttle: a cap on writes per user (or per client IP when anonymous).

Registration creates rows and, for anonymous Web Push, needs no account at all, so it is the API's
cheapest abuse vector. The rate is ``DJANGO_PUSH["API_THROTTLE_RATE"]`` (default ``"60/min"``), read
each time a throttle is built (once per request); ``None`` turns the throttle off.
"""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from django_push.conf import push_settings
from django_push.exceptions import PushConfigurationError

_PERIODS = ("s", "m", "h", "d")


class RegistrationThrottle(SimpleRateThrottle):
    scope = "django_push_registration"

    def get_rate(self) -> str | None:
        rate = push_settings.API_THROTTLE_RATE
        if not rate:
            return None
        num, _, period = str(rate).partition("/")
        if not num.isdigit() or not period or period[0] not in _PERIODS:
            raise PushConfigurationError(
                f"DJANGO_PUSH['API_THROTTLE_RATE'] is {rate!r}; expected e.g. '60/min', '1000/hour' or None."
            )
        return str(rate)

    def get_cache_key(self, request: Request, view: Any) -> str:
        user = getattr(request, "user", None)
        ident = f"user-{user.pk}" if user is not None and user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}
