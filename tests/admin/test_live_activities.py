"""Admin: "End selected Live Activities" on devices and "Delete selected channels at APNs"."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from django_push import testing
from django_push.compose import broadcast_channels
from django_push.devices.lifecycle import ACTIVITY_ENDED
from django_push.models import BroadcastChannel, Device, DeviceKind
from django_push.results import DeliveryStatus

from ..factories import DeviceFactory
from .conftest import staff_with

pytestmark = pytest.mark.django_db

DEVICES = "admin:django_push_device_changelist"
CHANNELS = "admin:django_push_broadcastchannel_changelist"


def texts(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def update_token(n: int, activity_id: str) -> Device:
    return Device.objects.create(
        platform="apns",
        address=f"{n:0160x}",
        kind=DeviceKind.LIVEACTIVITY_UPDATE,
        activity_type="Match",
        activity_id=activity_id,
    )


def test_end_selected_activities_sends_end_and_retires_the_tokens(admin_client):
    one, two = update_token(1, "a"), update_token(2, "b")
    app = DeviceFactory()
    testing.script_outcome(two.address, DeliveryStatus.REJECTED)
    response = admin_client.post(
        reverse(DEVICES), {"action": "end_activities", "_selected_action": [one.pk, two.pk, app.pk]}
    )
    assert texts(response) == ["Ended 1 of 2 Live Activities (1 selected were not update tokens)."]
    assert [e.message.live_activity["event"] for e in testing.outbox] == ["end", "end"]
    one.refresh_from_db()
    two.refresh_from_db()
    assert (one.active, one.deactivation_reason) == (False, ACTIVITY_ENDED)
    assert two.active  # its end was refused: the activity still runs


def test_end_needs_update_tokens_and_the_send_permission(client, admin_client):
    app = DeviceFactory()
    response = admin_client.post(reverse(DEVICES), {"action": "end_activities", "_selected_action": [app.pk]})
    assert texts(response) == ["None of the selected devices is an active Live Activity update token."]
    client.force_login(staff_with("view_device", "change_device"))
    page = client.get(reverse(DEVICES))
    assert "end_activities" not in page.content.decode()


def test_delete_selected_channels_at_apns(admin_client):
    live = broadcast_channels.create_channel(name="Lyon – Nice")
    forgotten = BroadcastChannel.objects.create(channel_id="Z29uZQ==", bundle_id="apns", name="gone")
    page = admin_client.get(reverse(CHANNELS))
    assert "Lyon – Nice" in page.content.decode() and "delete_selected" not in page.content.decode()
    response = admin_client.post(
        reverse(CHANNELS), {"action": "delete_at_apns", "_selected_action": [live.pk, forgotten.pk]}
    )
    assert texts(response) == ["Deleted 1 channel at APNs (1 were already gone)."]
    assert not BroadcastChannel.objects.filter(active=True).exists()
    assert broadcast_channels.channel_backend("default").list_channels() == []
