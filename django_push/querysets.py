"""Query helpers for devices and notifications, so callers never repeat filter logic."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import models

if TYPE_CHECKING:
    from .models import Device  # noqa: F401 - named in a string annotation


class DeviceQuerySet(models.QuerySet["Device"]):
    def active(self) -> DeviceQuerySet:
        return self.filter(active=True)

    def for_user(self, user: Any) -> DeviceQuerySet:
        """Devices owned by ``user``; none for an anonymous user."""
        if user is None or not getattr(user, "is_authenticated", False):
            return self.none()
        return self.filter(owner=user)

    def for_platform(self, platform: str) -> DeviceQuerySet:
        return self.filter(platform=platform)

    def for_application(self, application: str) -> DeviceQuerySet:
        return self.filter(application=application)

    def subscribed_to(self, *topics: str) -> DeviceQuerySet:
        return self.filter(subscriptions__topic__name__in=topics).distinct()

    def by_address(self, platform: str, application: str, address: str) -> DeviceQuerySet:
        from .models import address_hash

        return self.filter(platform=platform, application=application, address_hash=address_hash(address))
