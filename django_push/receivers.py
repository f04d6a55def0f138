"""Receivers the app connects in ``AppConfig.ready()``."""

from __future__ import annotations


def connect() -> None:
    from django.db.models.signals import post_migrate

    from .schedules import ensure_periodic_tasks

    post_migrate.connect(ensure_periodic_tasks, dispatch_uid="django_push.ensure_periodic_tasks")

    from . import events

    events.connect_rules()
