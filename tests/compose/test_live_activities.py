"""live_activities.start/update/end/broadcast through dispatch and the locmem backend: who is reached,
what the payload says, the timestamp rule, token retirement, and Apple's rules as ValidationErrors."""

from __future__ import annotations

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.core.exceptions import ValidationError

from django_push import dispatch, testing
from django_push.compose import broadcast_channels, live_activities
from django_push.devices.lifecycle import ACTIVITY_ENDED
from django_push.message import PushMessage
from django_push.models import BroadcastChannel, Delivery, Device, DeviceKind, Notification
from django_push.results import DeliveryStatus

from ..factories import DeviceFactory, UserFactory

pytestmark = pytest.mark.django_db


def token(n: int) -> str:
    return f"{n:0160x}"


@pytest.fixture
def phone(db):
    user = UserFactory()
    device = DeviceFactory(owner=user, platform="apns", address="ab" * 32)
    start = Device.objects.create(
        platform="apns",
        owner=user,
        address=token(1),
        kind=DeviceKind.LIVEACTIVITY_START,
        activity_type="Match",
    )
    other_type = Device.objects.create(
        platform="apns",
        owner=user,
        address=token(2),
        kind=DeviceKind.LIVEACTIVITY_START,
        activity_type="Taxi",
    )
    update = Device.objects.create(
        platform="apns",
        owner=user,
        address=token(3),
        kind=DeviceKind.LIVEACTIVITY_UPDATE,
        activity_type="Match",
        activity_id="act-1",
    )
    return user, device, start, other_type, update


def addresses() -> list[str]:
    return [entry.target.address for entry in testing.outbox]


def test_start_reaches_the_push_to_start_tokens_of_the_type_only(phone):
    user, _device, start, _, _ = phone
    n = live_activities.start(
        users=[user],
        attributes_type="Match",
        attributes={"home": "Lyon"},
        content_state={"score": "0-0"},
        title="Kick-off",
        send_now=True,
    )
    assert addresses() == [start.address]
    assert (n.notification_type, n.sent, n.status) == ("live_activity.start", 1, "done")
    spec = testing.outbox[0].message.live_activity
    assert spec["event"] == "start" and spec["attributes_type"] == "Match"
    assert spec["timestamp"] == int(n.created_at.timestamp())
    assert testing.outbox[0].message.push_type == "liveactivity"


def test_update_reaches_the_activity_with_a_fixed_timestamp_and_priority_5(phone):
    *_, update = phone
    n = live_activities.update(activity_ids=["act-1"], content_state={"score": "1-0"}, send_now=True)
    assert addresses() == [update.address]
    message = testing.outbox[0].message
    assert message.live_activity["timestamp"] == int(n.created_at.timestamp())
    assert message.live_activity["content_state"] == {"score": "1-0"}
    # Stored on the notification: a retry rebuilds the same message, with the same timestamp.
    assert Notification.objects.get(pk=n.pk).to_message().live_activity == message.live_activity


def test_caller_timestamp_and_dates_are_seconds(phone):
    when = datetime(2026, 1, 1, 12, tzinfo=dt_timezone.utc)
    live_activities.update(
        activity_ids=["act-1"],
        content_state={},
        timestamp=when,
        stale_date=when + timedelta(minutes=10),
        send_now=True,
    )
    spec = testing.outbox[0].message.live_activity
    assert spec["timestamp"] == int(when.timestamp())
    assert spec["stale_date"] == int(when.timestamp()) + 600


def test_ordinary_notifications_never_reach_activity_tokens(phone):
    _, device, *_ = phone
    dispatch.send_message(PushMessage(title="hi"), Device.objects.all())
    n = dispatch.create(audience={"all": True}, message=PushMessage(title="all"))
    dispatch.plan(n.pk, inline=True)
    assert addresses() == [device.address, device.address]


def test_a_sent_end_retires_the_update_token_and_a_410_deactivates_it(phone):
    *_, update = phone
    n = live_activities.end(activity_ids=["act-1"], dismissal_date=0, send_now=True)
    assert n.sent == 1
    update.refresh_from_db()
    assert (update.active, update.deactivation_reason) == (False, ACTIVITY_ENDED)
    assert testing.outbox[0].message.live_activity["dismissal_date"] == 0

    fresh = Device.objects.create(
        platform="apns",
        address=token(9),
        kind="liveactivity_update",
        activity_type="Match",
        activity_id="act-2",
    )
    testing.script_outcome(fresh.address, DeliveryStatus.INVALID_TOKEN)
    n = live_activities.update(activity_ids=["act-2"], content_state={"s": 1}, send_now=True)
    fresh.refresh_from_db()
    assert n.invalid == 1 and not fresh.active


def test_an_update_never_retires_and_a_failed_end_keeps_the_token(phone):
    *_, update = phone
    testing.script_outcome(update.address, DeliveryStatus.REJECTED)
    live_activities.end(activity_ids=["act-1"], send_now=True)
    update.refresh_from_db()
    assert update.active
    assert Delivery.objects.get(device=update).status == DeliveryStatus.REJECTED


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (
            lambda: live_activities.update(activity_ids=["a"], content_state={}, apns_priority=1),
            "apns_priority",
        ),
        (
            lambda: live_activities.update(activity_ids=["a"], content_state={}, relevance_score=-3),
            "relevance_score",
        ),
        (lambda: live_activities.update(content_state={}), "activity_ids"),
        (lambda: live_activities.update(activity_ids=["a"], content_state={}, timestamp="now"), "timestamp"),
        (
            lambda: live_activities.update(activity_ids=["a"], content_state={"x": "y" * 5000}),
            "content_state",
        ),
        (
            lambda: live_activities.start(
                users=[], attributes_type="", attributes={}, content_state={}, title="t"
            ),
            "attributes_type",
        ),
        (lambda: live_activities.end(activity_ids=["a"], timestamp=datetime(2026, 1, 1)), "timestamp"),
    ],
)
def test_apple_rules_are_validation_errors_naming_the_field(call, field):
    with pytest.raises(ValidationError) as caught:
        call()
    assert field in caught.value.message_dict, caught.value.message_dict
    assert not Notification.objects.exists()


def test_broadcast_on_a_channel_is_one_send_recorded_as_a_notification():
    channel = broadcast_channels.create_channel(name="Lyon – Nice", storage_policy=0)
    assert channel.active and channel.storage_policy == 0 and channel.channel_id
    n = live_activities.broadcast(channel, {"score": "2-1"}, relevance_score=75)
    assert addresses() == [f"channel:{channel.channel_id}"]
    assert (n.notification_type, n.targeted, n.sent, n.status) == ("live_activity.broadcast", 1, 1, "done")
    assert n.options["broadcast_channel"] == channel.channel_id
    assert n.options["broadcast_result"]["status"] == "sent"
    dispatch.send_due()  # the sweep has no audience to plan for it: the record stays as it is
    n.refresh_from_db()
    assert (n.targeted, n.sent, n.status) == (1, 1, "done")
    channel.refresh_from_db()
    assert channel.last_broadcast_at is not None
    with pytest.raises(ValidationError) as caught:
        live_activities.broadcast(channel, {"s": 1}, event="start", title="t")
    assert "event" in caught.value.message_dict


def test_channels_belong_to_objects_and_are_deleted_once():
    owner = UserFactory()
    channel = broadcast_channels.create_channel(content_object=owner, environment="sandbox")
    assert list(broadcast_channels.channels_for(owner)) == [channel]
    assert broadcast_channels.read_channel(channel)["message-storage-policy"] == 1
    assert broadcast_channels.delete_channel(channel) is True
    assert broadcast_channels.delete_channel(channel) is False  # already gone at APNs: still fine
    channel.refresh_from_db()
    assert not channel.active and channel.deleted_at is not None
    assert list(broadcast_channels.channels_for(owner)) == []
    with pytest.raises(ValidationError):
        live_activities.broadcast(channel, {"s": 1})


def test_refresh_marks_channels_apns_forgot():
    kept = broadcast_channels.create_channel()
    lost = BroadcastChannel.objects.create(channel_id="Z29uZQ==", bundle_id="apns")
    assert broadcast_channels.refresh_channels() == 1
    lost.refresh_from_db()
    kept.refresh_from_db()
    assert not lost.active and kept.active


def test_create_channel_validates_its_arguments():
    with pytest.raises(ValidationError) as caught:
        broadcast_channels.create_channel(storage_policy=5)
    assert "storage_policy" in caught.value.message_dict
    with pytest.raises(ValidationError):
        broadcast_channels.create_channel(environment="staging")


def test_example_project_live_activity_demo_runs_every_step():
    from io import StringIO

    from django.core.management import CommandError, call_command

    from example_project.demo.management.commands import liveactivitydemo

    with pytest.raises(CommandError, match="setupdemo"):
        call_command(liveactivitydemo.Command())
    user = UserFactory(username="demo")
    DeviceFactory(owner=user, platform="apns", address=liveactivitydemo.PHONE)
    out = StringIO()
    call_command(liveactivitydemo.Command(), stdout=out)
    assert "5. channel deleted" in out.getvalue()
    events = [(e.target.address, e.message.live_activity["event"]) for e in testing.outbox]
    update = liveactivitydemo.UPDATE_TOKEN
    assert events[0] == (update, "update") and events[2] == (update, "end")
    assert events[1][0].startswith("channel:") and events[1][1] == "update"
    assert not Device.objects.get(address=update).active
    start = Device.objects.get(address=liveactivitydemo.START_TOKEN)
    assert (
        start.kind == DeviceKind.LIVEACTIVITY_START and start.installation.address == liveactivitydemo.PHONE
    )


def test_a_throttled_broadcast_is_retried_then_recorded(settings):
    channel = broadcast_channels.create_channel()
    address = f"channel:{channel.channel_id}"
    testing.script_outcome(address, DeliveryStatus.THROTTLED)
    n = live_activities.broadcast(channel, {"s": 1})
    assert (n.sent, n.status, len(testing.outbox)) == (1, "done", 2)
    testing.script_outcome(address, *[DeliveryStatus.UNAVAILABLE] * live_activities.BROADCAST_ATTEMPTS)
    n = live_activities.broadcast(channel, {"s": 2})
    assert (n.sent, n.failed, n.status) == (0, 1, "failed")
    assert n.options["broadcast_result"]["status"] == "unavailable"
    assert len(testing.outbox) == 2 + live_activities.BROADCAST_ATTEMPTS
