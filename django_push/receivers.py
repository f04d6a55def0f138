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
    connect_topic_sync()


def connect_topic_sync() -> None:
    """Follow Subscription changes only while FCM_TOPIC_SYNC is on: a pre_delete receiver makes Django
    load and signal every Subscription a delete or cascade removes (no fast delete), which a site
    without topic sync must not pay for. Re-run when DJANGO_PUSH changes."""
    from django.db.models.signals import post_save, pre_delete

    from django_push.conf import push_settings
    from django_push.models import Subscription

    if push_settings.FCM_TOPIC_SYNC:
        post_save.connect(subscription_saved, sender=Subscription, dispatch_uid="django_push.fcm_topic_add")
        pre_delete.connect(
            subscription_deleted, sender=Subscription, dispatch_uid="django_push.fcm_topic_remove"
        )
    else:
        post_save.disconnect(sender=Subscription, dispatch_uid="django_push.fcm_topic_add")
        pre_delete.disconnect(sender=Subscription, dispatch_uid="django_push.fcm_topic_remove")


def reset_backends(*, setting: str, **kwargs: Any) -> None:
    """Changing DJANGO_PUSH (``override_settings`` in tests) drops the cached backend instances."""
    if setting == "DJANGO_PUSH":
        from django_push.handler import backends

        backends.reset()
        connect_topic_sync()


def subscription_saved(*, instance: Any, created: bool, raw: bool = False, **kwargs: Any) -> None:
    """A new Subscription of an FCM device joins the FCM topic too (when FCM_TOPIC_SYNC is on)."""
    if created and not raw:
        from django_push.dispatch import topic_sync

        if topic_sync.enabled():
            topic_sync.record(instance.device, instance.topic.name, "add")


def subscription_deleted(*, instance: Any, **kwargs: Any) -> None:
    """A Subscription deleted (also by cascade, from its device or topic) leaves the FCM topic."""
    from django_push.dispatch import topic_sync

    if topic_sync.enabled():
        topic_sync.record(instance.device, instance.topic.name, "remove")
