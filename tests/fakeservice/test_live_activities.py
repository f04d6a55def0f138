"""Live Activities, broadcasts and channel management through the real APNs backend and the local fake
service (TLS + HTTP/2), with the fake's own answers pinned (bench/fakepush_live.py)."""

from __future__ import annotations

import asyncio
import json
import ssl

import httpx
import pytest
from django.test import override_settings

from bench.fakepush import FakePushService
from bench.fakepush_live import live_state, management_service
from django_push.backends.apns import APNsBackend
from django_push.compose import broadcast_channels, live_activities
from django_push.exceptions import ChannelError
from django_push.handler import backends
from django_push.message import PushMessage, Target
from django_push.models import Device, DeviceKind
from django_push.results import DeliveryStatus

from ..backends.fixtures import KEY_PEM
from ..integration.test_fake_service_broadcast import apns_settings

BUNDLE = "com.example.app"
T0 = 1_767_225_600
UPDATE_TOKEN = "c0" * 80
DEAD_TOKEN = "dead" + "0" * 156


@pytest.fixture
def services():
    with FakePushService() as push, management_service(push) as manage:
        yield push, manage


def backend(push: FakePushService, manage: FakePushService) -> APNsBackend:
    return APNsBackend(
        alias="apns",
        team_id="TEAM123456",
        key_id="KEY1234567",
        key=KEY_PEM,
        topic=BUNDLE,
        production_url=push.url,
        sandbox_url=push.url,
        management_production_url=manage.url,
        management_sandbox_url=manage.url,
        verify=push.ca_file,
        token_cache=None,
    )


def live(event: str = "update", **fields) -> PushMessage:
    spec = {"event": event, "timestamp": T0, "content_state": {"score": "1-0"}, **fields}
    return PushMessage(push_type="liveactivity", live_activity=spec)


def test_start_update_and_410_over_http2(services):
    push, manage = services
    b = backend(push, manage)
    start = PushMessage(
        push_type="liveactivity",
        title="Kick-off",
        live_activity={
            "event": "start",
            "timestamp": T0,
            "content_state": {"score": "0-0"},
            "attributes_type": "MatchAttributes",
            "attributes": {"home": "Lyon"},
        },
    )
    [started] = b.send(start, [Target("a0" * 80)])
    updated, dead = b.send(live(), [Target(UPDATE_TOKEN), Target(DEAD_TOKEN)])
    b.close()
    assert started.status == DeliveryStatus.SENT and len(started.message_id) == 36
    assert updated.status == DeliveryStatus.SENT
    assert dead.status == DeliveryStatus.INVALID_TOKEN and dead.error_code == "Unregistered"
    state = live_state(push)
    assert state.events == {"start": 1, "update": 2}
    assert state.payloads[0]["attributes"] == {"home": "Lyon"} and state.payloads[0]["input-push-token"] == 1
    assert push.accepted[UPDATE_TOKEN] == 1 and push.status_counts == {200: 2, 410: 1}


def test_channel_lifecycle_and_broadcast_over_http2(services):
    push, manage = services
    b = backend(push, manage)
    try:
        channel = b.create_channel(0, environment="sandbox")
        assert b.list_channels("sandbox") == [channel]
        assert b.read_channel(channel, "sandbox") == {
            "message-storage-policy": 0,
            "push-type": "LiveActivity",
        }
        sent = b.broadcast(live(relevance_score=10), channel, "sandbox")
        assert sent.status == DeliveryStatus.SENT and sent.message_id
        assert live_state(push).broadcasts[channel] == 1
        b.delete_channel(channel, "sandbox")
        assert b.list_channels("sandbox") == []
        with pytest.raises(ChannelError) as missing:
            b.read_channel(channel, "sandbox")
        assert (missing.value.reason, missing.value.status_code) == ("ChannelNotRegistered", 404)
        gone = b.broadcast(live(), channel, "sandbox")
        assert gone.status == DeliveryStatus.REJECTED and gone.error_code == "ChannelNotRegistered"
        with pytest.raises(ChannelError) as bad:
            b.delete_channel("not-base64!", "sandbox")
        assert bad.value.reason == "BadChannelId" and "malformed" in str(bad.value)
        malformed = b.broadcast(live(), "not-base64!", "sandbox")
        assert malformed.status == DeliveryStatus.REJECTED and malformed.error_code == "BadChannelId"
    finally:
        b.close()
    assert manage.stats.status_counts[201] == 1 and manage.stats.status_counts[204] == 1


def raw(service: FakePushService, method: str, path: str, headers: dict, body: bytes = b"") -> httpx.Response:
    async def go() -> httpx.Response:
        context = ssl.create_default_context(cafile=service.ca_file)
        async with httpx.AsyncClient(http2=True, verify=context, base_url=service.url, timeout=5) as client:
            return await client.request(method, path, headers=headers, content=body)

    return asyncio.run(go())


AUTH = {"authorization": "bearer jwt-one"}
LIVE = {**AUTH, "apns-push-type": "liveactivity", "apns-topic": BUNDLE + ".push-type.liveactivity"}


def aps(**fields) -> bytes:
    return json.dumps({"aps": {"event": "update", "timestamp": T0, "content-state": {}, **fields}}).encode()


@pytest.mark.parametrize(
    ("headers", "body", "status", "reason"),
    [
        ({**LIVE, "apns-topic": BUNDLE}, aps(), 400, "BadTopic"),
        ({**LIVE, "apns-priority": "1"}, aps(), 400, "BadPriority"),
        (LIVE, aps(event="pause"), 400, "BadLiveActivityPayload"),
        (LIVE, aps(timestamp="now"), 400, "BadLiveActivityPayload"),
        (
            LIVE,
            json.dumps({"aps": {"event": "update", "timestamp": T0}}).encode(),
            400,
            "BadLiveActivityPayload",
        ),
        (LIVE, aps(event="start", alert={"title": "t"}), 400, "BadLiveActivityPayload"),
        (LIVE, aps(big="x" * 4100), 413, "PayloadTooLarge"),
    ],
)
def test_fake_refuses_live_activity_pushes_apple_would_drop(services, headers, body, status, reason):
    push, _ = services
    response = raw(push, "POST", "/3/device/" + UPDATE_TOKEN, headers, body)
    assert response.status_code == status and response.json()["reason"] == reason
    assert response.http_version == "HTTP/2"
    assert push.accepted[UPDATE_TOKEN] == 0


def test_fake_broadcast_and_management_answers(services):
    push, manage = services
    path = f"/4/broadcasts/apps/{BUNDLE}"
    assert raw(push, "POST", path, LIVE, aps()).json()["reason"] == "MissingChannelId"
    assert (
        raw(push, "POST", path, {**AUTH, "apns-channel-id": "Y2g="}, aps()).json()["reason"]
        == "InvalidPushType"
    )
    assert raw(push, "POST", path, {**LIVE, "apns-channel-id": "Y2g="}, aps()).status_code == 404
    assert (
        raw(push, "POST", path, {"apns-channel-id": "Y2g="}, aps()).json()["reason"] == "MissingProviderToken"
    )
    manage_path = f"/1/apps/{BUNDLE}/channels"
    assert raw(push, "GET", manage_path, AUTH).json()["reason"] == "BadPath"  # not on the push host
    assert raw(manage, "POST", "/3/device/" + UPDATE_TOKEN, LIVE, aps()).status_code == 404
    created = raw(
        manage, "POST", manage_path, AUTH, b'{"message-storage-policy": 2, "push-type": "LiveActivity"}'
    )
    assert created.json()["reason"] == "BadMessageStoragePolicy"
    wrong_type = raw(
        manage, "POST", manage_path, AUTH, b'{"message-storage-policy": 1, "push-type": "Alert"}'
    )
    assert wrong_type.json()["reason"] == "InvalidPushType"
    assert raw(manage, "GET", manage_path, AUTH).json()["reason"] == "MissingChannelId"
    assert (
        raw(manage, "DELETE", manage_path, {**AUTH, "apns-channel-id": "%%%"}).json()["reason"]
        == "BadChannelId"
    )


@pytest.mark.django_db(transaction=True)
def test_live_activities_api_through_dispatch_and_the_fake(services):
    push, manage = services
    settings = apns_settings(push, USE_CELERY=False)
    settings["BACKENDS"]["apns"]["OPTIONS"].update(
        management_production_url=manage.url, management_sandbox_url=manage.url
    )
    with override_settings(DJANGO_PUSH=settings):
        backends.reset()
        try:
            token = Device.objects.create(
                platform="apns",
                address=UPDATE_TOKEN,
                kind=DeviceKind.LIVEACTIVITY_UPDATE,
                activity_type="MatchAttributes",
                activity_id="act-1",
            )
            n = live_activities.update(activity_ids=["act-1"], content_state={"score": "2-0"}, send_now=True)
            assert (n.sent, n.status) == (1, "done")
            n = live_activities.end(activity_ids=["act-1"], content_state={"score": "2-1"}, send_now=True)
            token.refresh_from_db()
            assert n.sent == 1 and not token.active
            channel = broadcast_channels.create_channel(name="Lyon – Nice")
            assert live_state(push).channels.keys() == {(BUNDLE, channel.channel_id)}
            n = live_activities.broadcast(channel, {"score": "3-1"})
            assert (n.sent, n.status) == (1, "done")
            assert broadcast_channels.delete_channel(channel) is True
        finally:
            backends.reset()
    state = live_state(push)
    assert state.events == {"update": 2, "end": 1}
    assert state.broadcasts[channel.channel_id] == 1
    assert state.channels == {}
