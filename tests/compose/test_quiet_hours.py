"""Quiet hours in the user's own time zone: held until the window ends (never dropped); critical goes."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, time, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.db import transaction

from django_push import dispatch, testing
from django_push.compose.send import send as typed_send
from django_push.models import Delivery
from django_push.models.preferences import QuietHours, quiet_window_end

from ..factories import DeviceFactory, UserFactory
from .conftest import API

pytestmark = pytest.mark.django_db(transaction=True)

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
UTC = dt_timezone.utc


def at(hour: int, minute: int = 0, day: int = 15, tz=PARIS) -> datetime:
    return datetime(2026, 1, day, hour, minute, tzinfo=tz)


@pytest.mark.parametrize(
    ("start", "end", "now", "until"),
    [
        (time(22), time(7), at(23), at(7, day=16)),  # evening, across midnight
        (time(22), time(7), at(3), at(7)),  # after midnight
        (time(22), time(7), at(7), None),  # the end is outside
        (time(22), time(7), at(21, 59), None),
        (time(13), time(14), at(13, 30), at(14)),  # same-day window
        (time(13), time(14), at(14, 30), None),
        (time(9), time(9), at(9), None),  # empty window
    ],
)
def test_window(start, end, now, until):
    assert quiet_window_end(start, end, now.astimezone(UTC), PARIS) == until


def test_window_end_across_a_dst_change():
    # Europe/Paris moves to summer time on 2026-03-29: 22:00 CET → 07:00 CEST is 8 hours, not 9.
    night = datetime(2026, 3, 28, 22, 30, tzinfo=PARIS)
    end = quiet_window_end(time(22), time(7), night, PARIS)
    assert end == datetime(2026, 3, 29, 7, 0, tzinfo=PARIS)
    assert end.astimezone(UTC) == datetime(2026, 3, 29, 5, 0, tzinfo=UTC)


def _notify(user, **kwargs):
    with transaction.atomic():
        return dispatch.notify(
            audience={"users": [user.pk]}, title="Hi", notification_type="comment", **kwargs
        )


def test_held_inside_quiet_hours_and_released_when_they_end(clock):
    user = UserFactory()
    devices = DeviceFactory.create_batch(2, owner=user, time_zone="America/New_York")
    QuietHours.objects.create(user=user, start=time(22), end=time(7), time_zone="Europe/Paris")
    clock.set(at(23))
    n = _notify(user)
    assert testing.outbox == []
    held = Delivery.objects.filter(notification=n)
    assert {(d.status, d.next_attempt_at, d.reason) for d in held} == {
        ("pending", at(7, day=16), "quiet hours until 07:00 Europe/Paris")
    }
    n.refresh_from_db()
    assert n.status == "sending" and n.pending == 2

    clock.set(at(6, 50, day=16))  # still quiet: the sweep finds nothing due
    dispatch.send_due(now=clock.now)
    assert testing.outbox == []

    clock.set(at(7, 2, day=16))
    assert dispatch.send_due(now=clock.now) == 1
    assert sorted(e.target.key for e in testing.outbox) == sorted(d.pk for d in devices)
    n.refresh_from_db()
    assert (n.sent, n.skipped, n.status) == (2, 0, "done")


def test_time_zone_falls_back_to_each_device(clock):
    user = UserFactory()
    tokyo = DeviceFactory(owner=user, time_zone="Asia/Tokyo")
    paris = DeviceFactory(owner=user, time_zone="Europe/Paris")
    QuietHours.objects.create(user=user, start=time(22), end=time(7))  # no zone of its own
    clock.set(datetime(2026, 1, 15, 22, 30, tzinfo=UTC))  # 07:30 in Tokyo, 23:30 in Paris
    n = _notify(user)
    assert [e.target.key for e in testing.outbox] == [tokyo.pk]
    assert Delivery.objects.get(notification=n, device=paris).next_attempt_at == at(7, day=16)


def test_critical_goes_through_quiet_hours(clock):
    user = UserFactory()
    device = DeviceFactory(owner=user)
    QuietHours.objects.create(user=user, start=time(0), end=time(23, 59), time_zone="Europe/Paris")
    clock.set(at(12))
    with transaction.atomic():
        typed_send("security_alert", to=user, title="New sign-in")
        typed_send("direct_message", to=user, title="hey")
    assert [(e.target.key, e.message.title) for e in testing.outbox] == [(device.pk, "New sign-in")]


def test_disabled_quiet_hours_do_nothing(clock):
    user = UserFactory()
    DeviceFactory(owner=user)
    QuietHours.objects.create(user=user, start=time(0), end=time(23, 59), enabled=False)
    clock.set(at(12))
    _notify(user)
    assert len(testing.outbox) == 1


QUIET = API + "preferences/quiet-hours/"


def test_quiet_hours_api(api, user):
    assert api.get(QUIET).status_code == 404
    response = api.put(QUIET, {"start": "22:00", "end": "07:00", "time_zone": "Europe/Paris"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json() == {
        "enabled": True,
        "start": "22:00:00",
        "end": "07:00:00",
        "time_zone": "Europe/Paris",
    }
    assert QuietHours.objects.get(user=user).end == time(7)
    api.put(QUIET, {"start": "23:00", "end": "06:00", "enabled": False}, format="json")
    quiet = QuietHours.objects.get(user=user)
    assert (quiet.start, quiet.enabled, quiet.time_zone) == (time(23), False, "Europe/Paris")
    bad = api.put(QUIET, {"start": "22:00", "end": "22:00", "time_zone": "Mars/Olympus"}, format="json")
    assert bad.status_code == 400 and set(bad.json()) == {"time_zone"}
    assert api.put(QUIET, {"start": "22:00", "end": "22:00"}, format="json").json() == {
        "end": ["The quiet hours must end at another time."]
    }
    assert api.delete(QUIET).status_code == 204
    assert not QuietHours.objects.filter(user=user).exists()


def test_quiet_hours_are_the_callers_own(api, other_api, other_user):
    QuietHours.objects.create(user=other_user, start=time(1), end=time(2))
    assert api.get(QUIET).status_code == 404
    api.delete(QUIET)
    assert QuietHours.objects.filter(user=other_user).exists()
    assert other_api.get(QUIET).json()["start"] == "01:00:00"


def test_a_window_ending_soon_is_waited_for_in_process(clock):
    """A window ending within EAGER_RETRY_MAX_WAIT is waited for by eager dispatch (the clock
    fixture turns that wait into moving the clock)."""
    user = UserFactory()
    DeviceFactory(owner=user)
    QuietHours.objects.create(user=user, start=time(22), end=time(7), time_zone="Europe/Paris")
    clock.set(at(6, 59, day=16) + timedelta(seconds=50))
    n = _notify(user)
    n.refresh_from_db()
    assert (n.sent, n.status) == (1, "done") and len(testing.outbox) == 1
    assert clock.now >= at(7, day=16)


def test_silent_live_activity_updates_go_through_quiet_hours_alerting_ones_wait(clock):
    from django_push.compose import live_activities
    from django_push.models import Device, DeviceKind

    user = UserFactory()
    token = Device.objects.create(
        platform="apns",
        owner=user,
        address="0d" * 80,
        kind=DeviceKind.LIVEACTIVITY_UPDATE,
        activity_type="Match",
        activity_id="act-1",
    )
    QuietHours.objects.create(user=user, start=time(0), end=time(23, 59), time_zone="Europe/Paris")
    clock.set(at(12))
    live_activities.update(activity_ids=["act-1"], content_state={"s": 1}, send_now=True)
    live_activities.update(activity_ids=["act-1"], content_state={"s": 2}, title="Goal!", send_now=True)
    assert [e.message.live_activity["content_state"] for e in testing.outbox] == [{"s": 1}]
    assert Delivery.objects.filter(device=token, next_attempt_at__isnull=False).count() == 1
