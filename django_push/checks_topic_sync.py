"""System checks for FCM topic sync (``DJANGO_PUSH["FCM_TOPIC_SYNC"]``): ids E030 and W030."""

from __future__ import annotations

from typing import Any

from django.core import checks

from django_push.conf import push_settings


def check_topic_sync(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    raw = push_settings.raw
    if not isinstance(raw, dict) or "FCM_TOPIC_SYNC" not in raw:
        return []
    value = raw["FCM_TOPIC_SYNC"]
    if not isinstance(value, bool):
        return [
            checks.Error(
                f'DJANGO_PUSH["FCM_TOPIC_SYNC"] must be True or False, not {value!r}.',
                hint='E.g. DJANGO_PUSH["FCM_TOPIC_SYNC"] = True to keep FCM topics in sync (docs/fcm.md).',
                id="django_push.E030",
            )
        ]
    backends = push_settings.BACKENDS
    if value and not (isinstance(backends, dict) and "fcm" in backends):
        return [
            checks.Warning(
                'DJANGO_PUSH["FCM_TOPIC_SYNC"] is True but there is no "fcm" backend: subscription changes '
                "are recorded and will fail to sync.",
                hint='Configure DJANGO_PUSH["BACKENDS"]["fcm"] = {"BACKEND": '
                '"django_push.backends.fcm.FCMBackend", "OPTIONS": {"project_id": ..., '
                '"credentials_file": ...}}, or set FCM_TOPIC_SYNC to False.',
                id="django_push.W030",
            )
        ]
    return []
