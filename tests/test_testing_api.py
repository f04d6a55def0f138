"""The testing API that sites using the app rely on."""

import pytest
from django.test import override_settings

from django_push import dispatch, testing
from django_push.message import PushMessage
from django_push.models import Delivery

from .factories import DeviceFactory

pytestmark = pytest.mark.django_db(transaction=True)

CONSOLE = {"BACKEND": "django_push.backends.console.ConsoleBackend"}


def test_override_push_backends_routes_every_platform_to_locmem():
    with override_settings(DJANGO_PUSH={"BACKENDS": {"apns": CONSOLE, "fcm": CONSOLE}, "CHUNK_SIZE": 9}):
        with testing.override_push_backends() as outbox:
            from django_push.conf import push_settings

            assert push_settings.CHUNK_SIZE == 9  # other settings kept
            dispatch.send_message(PushMessage(title="x"), [DeviceFactory(), DeviceFactory(platform="fcm")])
            assert sorted(e.platform for e in outbox) == ["apns", "fcm"]
        assert outbox == []  # emptied on exit


def test_push_outbox_fixture(push_outbox):
    device = DeviceFactory()
    dispatch.send_message(PushMessage(title="fixture"), [device])
    assert [(e.message.title, e.target.key) for e in push_outbox] == [("fixture", device.pk)]


def test_scripted_outcomes_run_through_dispatch(push_outbox):
    device = DeviceFactory()
    testing.script_outcome(device.address, "rejected")
    n = dispatch.send_message(PushMessage(title="x"), [device])
    assert Delivery.objects.get(notification=n).status == "rejected"
    n2 = dispatch.send_message(PushMessage(title="y"), [device])
    assert Delivery.objects.get(notification=n2).status == "sent"  # script consumed
