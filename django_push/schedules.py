"""django-celery-beat schedules for the app's periodic work, created idempotently after migrate."""

from __future__ import annotations

from typing import Any

PERIODIC_TASKS: tuple[dict[str, Any], ...] = (
    {
        "name": "django_push: clear stale devices",
        "task": "django_push.clear_stale_devices",
        "crontab": {"minute": "17", "hour": "3"},
    },
    {
        "name": "django_push: prune old deliveries",
        "task": "django_push.prune_deliveries",
        "crontab": {"minute": "37", "hour": "3"},
    },
    {
        "name": "django_push: send due notifications and retries",
        "task": "django_push.send_due",
        "interval": {"every": 10, "period": "seconds"},
    },
)


def ensure_periodic_tasks(sender: Any = None, **kwargs: Any) -> int:
    """Create or update the beat entries (only when django_celery_beat is installed). Returns count."""
    from django.apps import apps

    if not apps.is_installed("django_celery_beat"):
        return 0
    if sender is not None and getattr(sender, "name", "") not in ("django_push", "django_celery_beat"):
        return 0
    from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

    using = kwargs.get("using", "default")
    created = 0
    for spec in PERIODIC_TASKS:
        defaults: dict[str, Any] = {"task": spec["task"]}
        if "crontab" in spec:
            schedule, _ = CrontabSchedule.objects.using(using).get_or_create(
                **spec["crontab"], timezone="UTC"
            )
            defaults.update(crontab=schedule, interval=None)
        else:
            interval, _ = IntervalSchedule.objects.using(using).get_or_create(**spec["interval"])
            defaults.update(interval=interval, crontab=None)
        _, was_created = PeriodicTask.objects.using(using).update_or_create(
            name=spec["name"], defaults=defaults
        )
        created += was_created
    return created
