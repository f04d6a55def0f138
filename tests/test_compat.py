"""django_push.compat.send_message: the incumbents' send calls, on django_push devices."""

import time
from datetime import timedelta

import pytest

# The incumbents come with the test extra (the rule in tests/conftest.py: the bare core run skips here).
pytest.importorskip("push_notifications")
pytest.importorskip("firebase_admin")

from firebase_admin import messaging
from push_notifications.models import APNSDevice

from django_push import testing
from django_push.compat import send_message, to_push_message
from django_push.message import PushMessage
from django_push.models import Delivery, Device, Notification

from .factories import DeviceFactory, UserFactory, WebPushDeviceFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_queryset_call_with_dpn_keywords():
    user = UserFactory()
    apns = DeviceFactory(owner=user)
    web = WebPushDeviceFactory(owner=user)
    DeviceFactory()  # someone else's

    n = send_message(
        Device.objects.filter(owner=user),
        "You have a new message",
        title="Inbox",
        extra={"thread": 42},
        sound="default",
        badge=3,
        thread_id="inbox",
        category="MESSAGE",
        mutable_content=True,
        collapse_id="inbox-42",
        priority=10,
    )

    assert isinstance(n, Notification)
    assert (n.status, n.targeted, n.sent, n.invalid) == ("done", 2, 2, 0)
    assert sorted(e.target.key for e in testing.outbox) == sorted([apns.pk, web.pk])
    message = testing.outbox[0].message
    data = {k: v for k, v in message.data.items() if k != "dp_ref"}  # dp_ref: the engagement reference
    assert (message.title, message.body, data) == ("Inbox", "You have a new message", {"thread": 42})
    assert (message.sound, message.badge, message.thread_id, message.category) == (
        "default",
        3,
        "inbox",
        "MESSAGE",
    )
    assert (message.mutable_content, message.collapse_key, message.priority) == (True, "inbox-42", "normal")
    assert set(Delivery.objects.filter(notification=n).values_list("device_id", flat=True)) == {
        apns.pk,
        web.pk,
    }


def test_one_device_and_a_dead_token_never_raises():
    device = DeviceFactory()
    testing.script_outcome(device.address, "invalid_token")
    n = send_message(device, "Hello")
    assert (n.sent, n.invalid) == (0, 1)
    device.refresh_from_db()
    assert device.active is False


def test_a_list_of_devices_and_dispatch_keywords():
    user = UserFactory()
    devices = DeviceFactory.create_batch(2)
    n = send_message(devices, "Hi", created_by=user, notification_type="chat")
    assert (n.sent, n.created_by, n.notification_type) == (2, user, "chat")


def test_inactive_devices_are_left_out_as_dpn_does():
    on, off = DeviceFactory(), DeviceFactory(active=False)
    n = send_message(Device.objects.filter(pk__in=[on.pk, off.pk]), "Hi")
    assert (n.targeted, n.sent) == (1, 1)
    assert [e.target.key for e in testing.outbox] == [on.pk]


def test_empty_queryset_sends_nothing():
    n = send_message(Device.objects.none(), "Hi")
    assert (n.targeted, n.sent) == (0, 0)
    assert testing.outbox == []


def test_expiration_and_time_to_live_become_ttl():
    assert to_push_message("x", time_to_live=600).ttl == 600
    assert to_push_message("x", time_to_live=timedelta(hours=1)).ttl == 3600
    ttl = to_push_message("x", expiration=int(time.time()) + 3600).ttl
    assert 3590 <= ttl <= 3600
    assert to_push_message("x", expiration=int(time.time()) - 10).ttl == 0


@pytest.mark.parametrize(
    "given, expected",
    [(10, "normal"), (5, "low"), ("high", "high"), ("normal", "normal"), ("critical", "critical")],
)
def test_priorities(given, expected):
    assert to_push_message("x", priority=given).priority == expected


def test_renamed_fcm_keywords():
    message = to_push_message(
        None,
        collapse_key="score",
        android_channel_id="news",
        body_loc_key="GAME_PLAY",
        body_loc_args=["Bob"],
        title_loc_key="GAME_TITLE",
        data={"a": 1},
        extra={"b": 2},
        content_available=True,
    )
    assert (message.collapse_key, message.channel_id) == ("score", "news")
    assert (message.loc_key, message.loc_args, message.title_loc_key) == ("GAME_PLAY", ["Bob"], "GAME_TITLE")
    assert message.data == {"a": 1, "b": 2}
    assert message.body == "" and message.is_background


class Alert:
    """Shaped like push_notifications.apns_async.Alert (which needs aioapns): asDict() with dashes."""

    def __init__(self, **fields):
        self.fields = fields

    def asDict(self):
        return {k.replace("_", "-"): v for k, v in self.fields.items()}


def test_dpn_alert_dict_and_alert_object():
    assert to_push_message({"title": "Game", "body": "Bob wants to play", "loc-key": "K"}) == PushMessage(
        title="Game", body="Bob wants to play", loc_key="K"
    )
    assert to_push_message(Alert(title="Game", body="Bob", title_loc_key="T")) == PushMessage(
        title="Game", body="Bob", title_loc_key="T"
    )
    with pytest.raises(TypeError, match="alert key 'subtitle' is not modelled"):
        to_push_message({"subtitle": "x"})


def test_firebase_message_from_fcm_django_code():
    message = messaging.Message(
        notification=messaging.Notification(title="Score", body="2-1", image="https://example.com/i.png"),
        data={"match": "7"},
        android=messaging.AndroidConfig(
            collapse_key="match-7",
            priority="high",
            ttl=timedelta(minutes=5),
            notification=messaging.AndroidNotification(channel_id="sports", sound="goal", icon="ball"),
        ),
        apns=messaging.APNSConfig(
            payload=messaging.APNSPayload(
                aps=messaging.Aps(badge=2, thread_id="match-7", category="SCORE", mutable_content=True)
            )
        ),
        webpush=messaging.WebpushConfig(
            fcm_options=messaging.WebpushFCMOptions(link="https://example.com/m/7")
        ),
    )
    assert to_push_message(message) == PushMessage(
        title="Score",
        body="2-1",
        image="https://example.com/i.png",
        data={"match": "7"},
        collapse_key="match-7",
        priority="high",
        ttl=300,
        channel_id="sports",
        sound="goal",
        icon="ball",
        badge=2,
        thread_id="match-7",
        category="SCORE",
        mutable_content=True,
        url="https://example.com/m/7",
    )
    critical = messaging.Message(
        apns=messaging.APNSConfig(
            payload=messaging.APNSPayload(
                aps=messaging.Aps(sound=messaging.CriticalSound("alarm", critical=True))
            )
        )
    )
    assert to_push_message(critical).sound == {"critical": 1, "name": "alarm"}
    device = DeviceFactory(platform="fcm", address="f" * 40)
    assert send_message(device, message).sent == 1
    assert testing.outbox[0].message.title == "Score"


@pytest.mark.parametrize(
    "kwargs, hint",
    [
        ({"application_id": "x"}, "each device already has its application"),
        ({"dry_run": True}, "locmem backend"),
        ({"creds": object()}, "credentials come from DJANGO_PUSH"),
        ({"click_action": "OPEN"}, "does not model: 'click_action'"),
    ],
)
def test_arguments_django_push_cannot_honour_are_refused(kwargs, hint):
    device = DeviceFactory()
    with pytest.raises(TypeError, match=hint):
        send_message(device, "Hi", **kwargs)
    assert Notification.objects.count() == 0


def test_incumbent_rows_are_refused_with_the_way_out():
    APNSDevice.objects.create(registration_id="ab" * 32)
    with pytest.raises(TypeError, match="importpushdevices"):
        send_message(APNSDevice.objects.all(), "Hi")
    with pytest.raises(TypeError, match="not APNSDevice"):
        send_message([APNSDevice.objects.get()], "Hi")


def test_a_push_message_passes_through():
    message = PushMessage(title="Hi")
    assert to_push_message(message) is message
    with pytest.raises(TypeError, match="not both"):
        to_push_message(message, badge=1)
