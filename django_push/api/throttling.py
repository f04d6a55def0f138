"""The registration throttle: a cap on writes per user (or per client IP when anonymous).

Registration creates rows and, for anonymous Web Push, needs no account at all, so it is the API's
cheapest abuse vector. The rate is ``DJANGO_PUSH["API_THROTTLE_RATE"]`` (default ``"60/min"``), read
each time a throttle is built (once per request); ``None`` turns the throttle off.

An anonymous caller is keyed on its address as DRF's ``NUM_PROXIES`` says, and never on a header the
client alone wrote: unset or 0, ``REMOTE_ADDR``; ``n`` (behind n proxies), the n-th
``X-Forwarded-For`` entry from the right, the one our outermost proxy saw.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from django_push.conf import push_settings
from django_push.exceptions import PushConfigurationError

_PERIODS = ("s", "m", "h", "d")


class RegistrationThrottle(SimpleRateThrottle):
    scope = "django_push_registration"
    #: The DJANGO_PUSH key holding this throttle's rate.
    setting = "API_THROTTLE_RATE"

    def get_rate(self) -> str | None:
        rate = getattr(push_settings, self.setting)
        if not rate:
            return None
        num, _, period = str(rate).partition("/")
        if not num.isdigit() or not period or period[0] not in _PERIODS:
            raise PushConfigurationError(
                f"DJANGO_PUSH['{self.setting}'] is {rate!r}; expected e.g. '60/min', '1000/hour' or None."
            )
        return str(rate)

    def get_ident(self, request: Request) -> str:
        """The client's address. DRF's own ``get_ident`` keys on the whole ``X-Forwarded-For`` header
        when ``NUM_PROXIES`` is unset, so a client sending a fresh header each time is never throttled."""
        remote_addr = str(request.META.get("REMOTE_ADDR") or "")
        num_proxies = api_settings.NUM_PROXIES
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
        if not num_proxies or not forwarded:
            return remote_addr
        addresses = forwarded.split(",")
        try:  # garbage (a misconfigured proxy) falls back to the socket's address
            return str(ipaddress.ip_address(addresses[-min(num_proxies, len(addresses))].strip()))
        except ValueError:
            return remote_addr

    def get_cache_key(self, request: Request, view: Any) -> str:
        user = getattr(request, "user", None)
        ident = f"user-{user.pk}" if user is not None and user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class EngagementThrottle(RegistrationThrottle):
    """Engagement reports need no login, so they are capped per client address:
    ``DJANGO_PUSH["ENGAGEMENT_THROTTLE_RATE"]`` (default ``"120/min"``; ``None`` turns it off)."""

    scope = "django_push_engagement"
    setting = "ENGAGEMENT_THROTTLE_RATE"
