"""django-celery-beat schedules for the app's periodic work, created after migrate when missing.

An entry that exists is never changed (an operator may have moved its crontab, disabled it, given it
arguments): only ``manage.py setuppushschedules --reset`` puts the defaults back.
"""

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
        "name": "django_push: repair FCM topic sync",
        "task": "django_push.repair_fcm_topics",
        "crontab": {"minute": "47", "hour": "*"},
    },
    {
        "name": "django_push: send due notifications and retries",
        "task": "django_push.send_due",
        "interval": {"every": 10, "period": "seconds"},
    },
)


def ensure_periodic_tasks(sender: Any = None, *, reset: bool = False, **kwargs: Any) -> int:
    """Create the beat entries that are missing (only when django_celery_beat is installed); an
    existing entry is left as it is unless ``reset``, which restores its task, schedule and enabled
    flag. Returns how many entries were created (or, with ``reset``, created or reset)."""
    from django.apps import apps

    if not apps.is_installed("django_celery_beat"):
        return 0
    if sender is not None and getattr(sender, "name", "") not in ("django_push", "django_celery_beat"):
        return 0
    from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

    using = kwargs.get("using", "default")
    tasks = PeriodicTask.objects.using(using)
    changed = 0
    for spec in PERIODIC_TASKS:
        if not reset and tasks.filter(name=spec["name"]).exists():
            continue  # the operator's entry, whatever it says now
        defaults: dict[str, Any] = {"task": spec["task"], "enabled": True}
        if "crontab" in spec:
            schedule, _ = CrontabSchedule.objects.using(using).get_or_create(
                **spec["crontab"], timezone="UTC"
            )
            defaults.update(crontab=schedule, interval=None)
        else:
            interval, _ = IntervalSchedule.objects.using(using).get_or_create(**spec["interval"])
            defaults.update(interval=interval, crontab=None)
        if reset:
            tasks.update_or_create(name=spec["name"], defaults=defaults)
            changed += 1
        else:
            changed += tasks.get_or_create(name=spec["name"], defaults=defaults)[1]
    return changed
