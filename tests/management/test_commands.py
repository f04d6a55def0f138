from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_push import testing
from django_push.models import Device

from ..factories import DeviceFactory, TopicFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_sendtestpush_to_user_prints_one_line_per_device():
    user = UserFactory(username="alice")
    devices = DeviceFactory.create_batch(2, owner=user)
    testing.script_outcome(devices[1].address, "invalid_token")
    out = run("sendtestpush", "--user", "alice", "--title", "Hi")
    lines = out.strip().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith(f"{devices[0].pk}\tapns\t") and lines[0].endswith("sent")
    assert "invalid_token" in lines[1]
    assert lines[2] == "1 sent, 0 failed, 1 invalid, 0 skipped"
    assert devices[0].address not in out
    assert [e.message.title for e in testing.outbox] == ["Hi", "Hi"]


def test_sendtestpush_by_topic_and_device():
    topic = TopicFactory(name="news")
    d1, d2 = DeviceFactory.create_batch(2)
    d1.subscriptions.create(topic=topic)
    run("sendtestpush", "--topic", "news", "--device", str(d2.public_id))
    assert sorted(e.target.key for e in testing.outbox) == sorted([d1.pk, d2.pk])


@pytest.mark.parametrize(
    "args, message",
    [
        ((), "Say who receives it"),
        (("--user", "nobody"), "No user 'nobody'"),
        (("--device", "999999"), "No device '999999'"),
        (("--topic", "empty"), "No active device matches"),
        (("--topic", "x", "--data", "[1]"), "--data must be a JSON object"),
        (("--topic", "x", "--data", "{bad"), "--data is not valid JSON"),
    ],
)
def test_sendtestpush_errors(args, message):
    with pytest.raises(CommandError, match=message):
        run("sendtestpush", *args)


def _stale_fixture():
    old = timezone.now() - timedelta(days=100)
    fresh = DeviceFactory()
    never_old = DeviceFactory()
    success_old = DeviceFactory(last_success_at=old)
    recent_success = DeviceFactory(last_success_at=timezone.now())
    Device.objects.filter(pk__in=[never_old.pk, success_old.pk, recent_success.pk]).update(created_at=old)
    return fresh, never_old, success_old, recent_success


def test_clearpushdevices_dry_run_changes_nothing():
    _stale_fixture()
    assert "Would have deactivated 2 device(s)" in run("clearpushdevices", "--days", "30", "--dry-run")
    assert Device.objects.filter(active=False).count() == 0


def test_clearpushdevices_deactivates_with_set_based_sql():
    _fresh, never_old, success_old, _recent = _stale_fixture()
    with CaptureQueriesContext(connection) as queries:
        out = run("clearpushdevices", "--days", "30")
    assert "deactivated 2 device(s)" in out
    assert set(Device.objects.filter(active=False).values_list("pk", flat=True)) == {
        never_old.pk,
        success_old.pk,
    }
    assert len(queries) <= 6  # a select of ids per batch and one UPDATE, not a query per device
    assert Device.objects.get(pk=success_old.pk).deactivation_reason.startswith("stale")


def test_clearpushdevices_delete():
    fresh, _never_old, _success_old, recent = _stale_fixture()
    assert "deleted 2 device(s)" in run("clearpushdevices", "--days", "30", "--delete")
    assert set(Device.objects.values_list("pk", flat=True)) == {fresh.pk, recent.pk}


def test_clearpushdevices_rejects_bad_days():
    with pytest.raises(CommandError, match="--days must be at least 1"):
        run("clearpushdevices", "--days", "0")


def test_periodic_tasks_created_idempotently():
    pytest.importorskip("django_celery_beat")  # the "celery" extra (see tests/conftest.py)
    from django_celery_beat.models import PeriodicTask

    run("setuppushschedules")
    run("setuppushschedules")
    names = set(PeriodicTask.objects.filter(name__startswith="django_push").values_list("task", flat=True))
    assert names == {
        "django_push.clear_stale_devices",
        "django_push.prune_deliveries",
        "django_push.repair_fcm_topics",
        "django_push.send_due",
    }
    assert PeriodicTask.objects.filter(name__startswith="django_push").count() == 4


def test_migrate_keeps_a_schedule_the_operator_edited():
    pytest.importorskip("django_celery_beat")
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    run("setuppushschedules")
    task = PeriodicTask.objects.get(name="django_push: clear stale devices")
    paris = CrontabSchedule.objects.create(minute="0", hour="5", timezone="Europe/Paris")
    task.crontab, task.enabled = paris, False
    task.save()
    # The crontab row itself edited in the admin, too.
    CrontabSchedule.objects.filter(
        pk=PeriodicTask.objects.get(name="django_push: prune old deliveries").crontab_id
    ).update(minute="0", hour="6")

    call_command("migrate", verbosity=0)  # post_migrate runs ensure_periodic_tasks again
    out = run("setuppushschedules")

    task.refresh_from_db()
    assert (task.crontab_id, task.enabled) == (paris.pk, False)
    assert str(task.crontab.timezone) == "Europe/Paris"
    prune = PeriodicTask.objects.get(name="django_push: prune old deliveries")
    assert (prune.crontab.minute, prune.crontab.hour) == ("0", "6")
    assert PeriodicTask.objects.filter(name__startswith="django_push").count() == 4
    assert "0 new" in out and "--reset" in out


def test_setuppushschedules_reset_restores_the_defaults():
    pytest.importorskip("django_celery_beat")
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    run("setuppushschedules")
    task = PeriodicTask.objects.get(name="django_push: clear stale devices")
    task.crontab = CrontabSchedule.objects.create(minute="0", hour="5", timezone="Europe/Paris")
    task.enabled = False
    task.save()
    PeriodicTask.objects.filter(name="django_push: send due notifications and retries").delete()

    assert "reset" in run("setuppushschedules", "--reset")

    task.refresh_from_db()
    assert (task.crontab.minute, task.crontab.hour, str(task.crontab.timezone)) == ("17", "3", "UTC")
    assert task.enabled
    due = PeriodicTask.objects.get(name="django_push: send due notifications and retries")
    assert (due.interval.every, due.interval.period, due.crontab) == (10, "seconds", None)


def test_prune_deliveries_removes_only_old_rows():
    from django_push.devices.cleanup import prune_deliveries
    from django_push.models import Delivery, Notification

    n = Notification.objects.create(title="x")
    old, new = DeviceFactory.create_batch(2)
    Delivery.objects.create(
        notification=n, device=old, platform="apns", created_at=timezone.now() - timedelta(days=100)
    )
    Delivery.objects.create(notification=n, device=new, platform="apns")
    assert prune_deliveries(90) == 1
    assert list(Delivery.objects.values_list("device_id", flat=True)) == [new.pk]
