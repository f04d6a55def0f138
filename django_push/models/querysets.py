"""Query helpers for devices and notifications, so callers never repeat filter logic."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from django.db import models

if TYPE_CHECKING:
    from django_push.models.devices import Device  # noqa: F401 - named in a string annotation


def address_hash(address: str) -> str:
    """SHA-256 of a push address: the unique key (a Web Push endpoint is too long to index)."""
    return hashlib.sha256(address.encode("utf-8")).hexdigest()


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
        return self.filter(platform=platform, application=application, address_hash=address_hash(address))

    # bulk_create()/bulk_update() skip Device.save(), which derives address_hash (the unique key) from
    # address: they derive it here too, so bulk imports keep the uniqueness guarantee.
    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> list[Any]:
        objs = list(objs)
        for device in objs:
            device.address_hash = address_hash(device.address)
        update_fields = kwargs.get("update_fields")
        if update_fields and "address" in update_fields:
            kwargs["update_fields"] = [*update_fields, "address_hash"]
        return super().bulk_create(objs, *args, **kwargs)

    def bulk_update(self, objs: Any, fields: Any, *args: Any, **kwargs: Any) -> int:
        objs, fields = list(objs), list(fields)
        if "address" in fields:
            for device in objs:
                device.address_hash = address_hash(device.address)
            fields.append("address_hash")
        return super().bulk_update(objs, fields, *args, **kwargs)
