"""The send calls of django-push-notifications and fcm-django, on django_push devices.

Code written for the incumbents sends with a method on a queryset or a device::

    GCMDevice.objects.filter(user=user).send_message("Hi", title="Hello", extra={"id": 1})  # DPN
    FCMDevice.objects.filter(user=user).send_message(Message(notification=...))           # fcm-django

After the import (docs/migrating.md) the same call is one function, with the same arguments::

    from django_push.compat import send_message

    send_message(Device.objects.filter(owner=user), "Hi", title="Hello", extra={"id": 1})
    send_message(device, Message(notification=Notification(title="Hello", body="Hi")))

It is a thin wrapper: the arguments become one :class:`~django_push.message.PushMessage`
(:func:`to_push_message`) and :func:`django_push.dispatch.send_message` sends it now, to every
platform the devices are on, and returns the stored ``Notification`` (``sent``, ``failed``,
``invalid``, ``skipped``; one ``Delivery`` row per device). A dead token is a result, never an
exception: the device is deactivated and counted in ``invalid``. An argument django_push cannot honour
raises ``TypeError`` naming it rather than being dropped silently.

Why a function and not ``Device.send_message()`` / ``Device.objects…send_message()``: sending lives in
``django_push.dispatch``, which imports the models; the models never import dispatch (imports only go
down), and patching methods onto the model from here would make ``Device``'s behaviour depend on
whether this module happened to be imported. One import line per call site is the whole cost.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.db.models import QuerySet

from django_push import dispatch
from django_push.message import PushMessage
from django_push.models import MESSAGE_OPTION_FIELDS, Device, Notification

__all__ = ["send_message", "to_push_message"]

# DPN keyword (or fcm-django attribute) -> PushMessage field, where only the name differs.
RENAMED = {
    "extra": "data",
    "collapse_id": "collapse_key",
    "android_channel_id": "channel_id",
    "body_loc_key": "loc_key",
    "body_loc_args": "loc_args",
}
#: PushMessage fields passed through as they are: the message option fields a Notification stores,
#: plus the content and delivery fields.
PASSED = {"title", "body", "data", *MESSAGE_OPTION_FIELDS, "push_type", "collapse_key", "overrides"}
# DPN's APNs priorities are the apns-priority header; its FCM ones are android.priority.
PRIORITY = {10: "normal", 5: "low", 1: "low", "high": "high", "normal": "normal"}
NOT_SUPPORTED = {
    "application_id": "each device already has its application; credentials come from DJANGO_PUSH",
    "creds": "credentials come from DJANGO_PUSH['BACKENDS'] / ['APPLICATIONS']",
    "app": "the Firebase project comes from DJANGO_PUSH['BACKENDS']['fcm'] / ['APPLICATIONS']",
    "topic": "the APNs topic is the backend's 'topic' option (per application)",
    "dry_run": "use the locmem backend in tests (django_push.testing.override_push_backends)",
    "to": "send to FCM topics with the FCM backend's send_to_topic() (docs/fcm.md)",
    "condition": "send to FCM conditions with the FCM backend's send_to_topic() (docs/fcm.md)",
    "notification_key": "FCM device groups are not supported; send to the devices",
}
DISPATCH_KWARGS = ("created_by", "notification_type")


def send_message(devices: Device | Iterable[Device], message: Any = None, **kwargs: Any) -> Notification:
    """Send ``message`` to ``devices`` now; returns the stored Notification.

    ``devices``: a Device, a Device queryset or any iterable of Devices (inactive ones are left out,
    as the incumbents do). ``message``: the text (the body), a DPN alert dict (``{"title", "body",
    "loc-key", …}``), a firebase_admin ``messaging.Message``, a ``PushMessage``, or None for a
    data-only push. Keywords
    are DPN's (``title``, ``extra``, ``sound``, ``badge``, ``expiration``, ``priority``, …, see
    :func:`to_push_message`) plus dispatch's ``created_by`` and ``notification_type``.
    """
    dispatch_kwargs = {k: kwargs.pop(k) for k in DISPATCH_KWARGS if k in kwargs}
    push = to_push_message(message, **kwargs)
    return dispatch.send_message(push, _devices(devices), **dispatch_kwargs)


def to_push_message(message: Any = None, **kwargs: Any) -> PushMessage:
    """The PushMessage for a DPN / fcm-django style call (see :func:`send_message`).

    Keywords: every PushMessage field by its name, plus DPN's ``extra`` (→ ``data``; merged into
    ``data`` when both are given), ``collapse_id`` (→ ``collapse_key``), ``android_channel_id``
    (→ ``channel_id``), ``body_loc_key``/``body_loc_args`` (→ ``loc_key``/``loc_args``),
    ``expiration`` (APNs: a Unix time → ``ttl``), ``time_to_live`` (seconds or timedelta → ``ttl``)
    and ``priority`` (10 → "normal", 5 or 1 → "low", "high", "normal", or a django_push priority).
    """
    if isinstance(message, PushMessage):
        if kwargs:
            raise TypeError(f"Pass keywords or a PushMessage, not both (got {', '.join(sorted(kwargs))}).")
        return message
    fields: dict[str, Any] = {}
    if _is_firebase_message(message):
        fields.update(_from_firebase(message))
    elif isinstance(message, dict) or hasattr(message, "asDict"):
        fields.update(_from_alert(message.asDict() if hasattr(message, "asDict") else message))
    elif message is not None:
        fields["body"] = str(message)
    data = {**fields.pop("data", {})}
    for key, value in kwargs.items():
        if value is None:
            continue
        if key in NOT_SUPPORTED:
            raise TypeError(f"send_message() does not take {key!r}: {NOT_SUPPORTED[key]}.")
        name = RENAMED.get(key, key)
        if name == "data":
            data.update(value)
        elif name in PASSED:
            fields[name] = value
        elif key == "priority":
            fields["priority"] = _priority(value)
        elif key == "expiration":
            fields["ttl"] = max(0, int(value) - int(time.time()))
        elif key in ("time_to_live", "ttl"):
            fields["ttl"] = _seconds(value)
        else:
            raise TypeError(
                f"send_message() got an argument django_push does not model: {key!r}. Set it on the "
                "provider payload with overrides={'apns': {...}, 'fcm': {...}, 'webpush': {...}}."
            )
    if data:
        fields["data"] = data
    return PushMessage(**fields)


def _devices(devices: Device | Iterable[Device]) -> Iterable[Device]:
    if isinstance(devices, Device):
        return [devices]
    if isinstance(devices, QuerySet):
        if not issubclass(devices.model, Device):
            raise TypeError(
                f"send_message() sends to django_push devices, not {devices.model._meta.label} rows: "
                "import them first (manage.py importpushdevices) and query django_push.models.Device."
            )
        return devices.only("pk")
    items = list(devices)
    strangers = {type(d).__name__ for d in items if not isinstance(d, Device)}
    if strangers:
        raise TypeError(f"send_message() sends to django_push devices, not {', '.join(sorted(strangers))}.")
    return items


def _priority(value: Any) -> str:
    if value in PRIORITY:
        return PRIORITY[value]
    if isinstance(value, str):
        return value.lower()  # a django_push priority; PushMessage refuses anything else
    raise ValueError(f"Unknown priority {value!r}: use 10, 5, 'high', 'normal' or a django_push priority.")


def _seconds(value: Any) -> int:
    return int(value.total_seconds()) if isinstance(value, timedelta) else int(value)


# DPN APNs alert dicts ("title", "body", "loc-key"...; its Alert.asDict() gives the same) ------------------

ALERT_KEYS = {
    "title": "title",
    "body": "body",
    "loc-key": "loc_key",
    "loc-args": "loc_args",
    "title-loc-key": "title_loc_key",
    "title-loc-args": "title_loc_args",
}


def _from_alert(alert: dict[str, Any]) -> dict[str, Any]:
    fields = {}
    for key, value in alert.items():
        name = ALERT_KEYS.get(key.replace("_", "-"))
        if name is None:
            raise TypeError(
                f"The alert key {key!r} is not modelled by django_push; set it with "
                "overrides={'apns': {'aps': {'alert': {...}}}}."
            )
        if value is not None:
            fields[name] = value
    return fields


# fcm-django: firebase_admin.messaging.Message, read by attribute (firebase_admin is not imported) --------


def _is_firebase_message(message: Any) -> bool:
    return all(hasattr(message, a) for a in ("notification", "data", "android", "apns", "webpush", "token"))


def _from_firebase(message: Any) -> dict[str, Any]:
    """Map the parts of a ``messaging.Message`` django_push models; set anything else with overrides."""
    fields: dict[str, Any] = {}

    def take(obj: Any, *names: str, renamed: dict[str, str] | None = None) -> None:
        for name in names:
            value = getattr(obj, name, None)
            if value is not None and value != []:
                fields.setdefault((renamed or {}).get(name, name), value)

    if message.notification is not None:
        take(message.notification, "title", "body", "image")
    if message.data:
        fields["data"] = dict(message.data)
    if message.apns is not None and message.apns.payload is not None:
        aps = message.apns.payload.aps
        alert = getattr(aps, "alert", None)
        if isinstance(alert, str):
            fields.setdefault("body", alert)
        elif alert is not None:
            take(alert, "title", "body", "loc_key", "loc_args", "title_loc_key", "title_loc_args")
        take(aps, "badge", "category", "thread_id", "content_available", "mutable_content")
        sound = getattr(aps, "sound", None)
        if sound is not None and not isinstance(sound, str):  # messaging.CriticalSound
            volume = getattr(sound, "volume", None)
            sound = {"critical": 1 if sound.critical else 0, "name": sound.name}
            if volume is not None:
                sound["volume"] = volume
        if sound is not None:
            fields.setdefault("sound", sound)
    android = message.android
    if android is not None:
        take(android, "collapse_key")
        if android.priority is not None:
            fields.setdefault("priority", PRIORITY.get(android.priority, android.priority))
        if android.ttl is not None:
            fields.setdefault("ttl", _seconds(android.ttl))
        if android.notification is not None:
            take(
                android.notification,
                "title",
                "body",
                "image",
                "icon",
                "sound",
                "channel_id",
                "title_loc_key",
                "title_loc_args",
                "body_loc_key",
                "body_loc_args",
                renamed={"body_loc_key": "loc_key", "body_loc_args": "loc_args"},
            )
    webpush = message.webpush
    if webpush is not None:
        if webpush.fcm_options is not None:
            take(webpush.fcm_options, "link", renamed={"link": "url"})
        if webpush.notification is not None:
            take(webpush.notification, "title", "body", "icon", "image")
    return fields
