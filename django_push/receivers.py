"""Receivers the app connects in ``AppConfig.ready()`` (never by import side effects)."""

from __future__ import annotations

from typing import Any


def connect() -> None:
    from django.core.signals import setting_changed
    from django.db.models.signals import post_migrate

    from django_push.compose import events
    from django_push.schedules import ensure_periodic_tasks

    post_migrate.connect(ensure_periodic_tasks, dispatch_uid="django_push.ensure_periodic_tasks")
    setting_changed.connect(reset_backends, dispatch_uid="django_push.reset_backends")
    events.connect_rules()


def reset_backends(*, setting: str, **kwargs: Any) -> None:
    """Changing DJANGO_PUSH (``override_settings`` in tests) drops the cached backend instances."""
    if setting == "DJANGO_PUSH":
        from django_push.handler import backends

        backends.reset()
