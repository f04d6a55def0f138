"""Live Activity pushes, broadcasts and channel management: the exact requests the APNs backend builds
(checked with respx), and Apple's rules refused before anything is sent."""

from __future__ import annotations

import json

import httpx
import pytest

from django_push.backends.apns import APNsBackend
from django_push.backends.apns_live import LIVE_ACTIVITY_PAYLOAD_LIMIT, LiveActivityError, normalize
from django_push.exceptions import ChannelError
from django_push.message import PushMessage, Target
from django_push.results import DeliveryStatus

from .fixtures import KEY_PEM

respx = pytest.importorskip("respx")  # the "test" extra, absent from the bare core run (tests/conftest.py)

T0 = 1_700_000_000
TOKEN = "ab" * 80  # ActivityKit tokens are longer than device tokens
BUNDLE = "com.example.app"


@pytest.fixture
def router():
    return respx.MockRouter(assert_all_called=False)


def backend(router: respx.MockRouter, **options) -> APNsBackend:
    b = APNsBackend(
        alias="apns",
        team_id="TEAM123456",
        key_id="KEY1234567",
        key=KEY_PEM,
        topic=BUNDLE,
        transport=httpx.MockTransport(router.async_handler),
        token_cache=None,
        **options,
    )
    b.clock = lambda: float(T0)
    return b


def live(event: str = "update", **fields) -> dict:
    spec = {"event": event, "timestamp": T0, "content_state": {"home": 1, "away": 0}}
    spec.update(fields)
    return {k: v for k, v in spec.items() if v is not None}


def message(spec: dict, **kwargs) -> PushMessage:
    return PushMessage(push_type="liveactivity", live_activity=spec, **kwargs)


def test_update_request_has_push_type_topic_suffix_priority_5_and_the_aps_fields(router):
    route = router.post(f"https://api.push.apple.com/3/device/{TOKEN}").respond(
        200, headers={"apns-id": "X1"}
    )
    spec = live(stale_date=T0 + 600, relevance_score=50)
    [result] = backend(router).send(message(spec, ttl=60), [Target(TOKEN)])
    assert result.status == DeliveryStatus.SENT and result.message_id == "X1"
    request = route.calls.last.request
    assert request.headers["apns-push-type"] == "liveactivity"
    assert request.headers["apns-topic"] == f"{BUNDLE}.push-type.liveactivity"
    assert request.headers["apns-priority"] == "5"
    assert request.headers["apns-expiration"] == str(T0 + 60)
    assert request.headers["authorization"].startswith("bearer ")
    assert json.loads(request.content) == {
        "aps": {
            "timestamp": T0,
            "event": "update",
            "content-state": {"home": 1, "away": 0},
            "stale-date": T0 + 600,
            "relevance-score": 50,
        }
    }


def test_start_carries_attributes_alert_and_asks_for_the_update_token(router):
    route = router.post(f"https://api.sandbox.push.apple.com/3/device/{TOKEN}").respond(200)
    spec = live("start", attributes_type="MatchAttributes", attributes={"home": "Lyon", "away": "Nice"})
    [result] = backend(router).send(
        message(spec, title="Kick-off", body="Lyon – Nice", sound="whistle.caf"),
        [Target(TOKEN, environment="sandbox")],
    )
    assert result.status == DeliveryStatus.SENT
    request = route.calls.last.request
    aps = json.loads(request.content)["aps"]
    assert aps["event"] == "start" and aps["attributes-type"] == "MatchAttributes"
    assert aps["attributes"] == {"home": "Lyon", "away": "Nice"}
    assert aps["alert"] == {"title": "Kick-off", "body": "Lyon – Nice", "sound": "whistle.caf"}
    assert aps["input-push-token"] == 1
    assert request.headers["apns-priority"] == "10"  # a start is shown at once


def test_end_with_dismissal_date_and_high_priority(router):
    route = router.post(f"https://api.push.apple.com/3/device/{TOKEN}").respond(200)
    spec = live("end", dismissal_date=T0 + 3600)
    backend(router).send(message(spec, priority="high"), [Target(TOKEN)])
    request = route.calls.last.request
    assert json.loads(request.content)["aps"]["dismissal-date"] == T0 + 3600
    assert request.headers["apns-priority"] == "10"


def test_explicit_priority_wins_and_410_is_an_invalid_token(router):
    route = router.post(f"https://api.push.apple.com/3/device/{TOKEN}").respond(
        410, json={"reason": "Unregistered", "timestamp": T0 * 1000}
    )
    [result] = backend(router).send(message(live(apns_priority=10)), [Target(TOKEN)])
    assert route.calls.last.request.headers["apns-priority"] == "10"
    assert result.status == DeliveryStatus.INVALID_TOKEN and result.error_code == "Unregistered"


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (live("pause"), "event"),
        (live(timestamp=None), "timestamp"),
        (live(timestamp="yesterday"), "timestamp"),
        (live(content_state=None), "content_state"),
        (live("start", attributes={"a": 1}), "attributes_type"),
        (live("start", attributes_type="A"), "attributes"),
        (live(dismissal_date=T0), "dismissal_date"),
        (live(attributes_type="A"), "attributes_type"),
        (live(apns_priority=1), "apns_priority"),
        (live(relevance_score=-1), "relevance_score"),
        (live(colour="red"), "colour"),
    ],
)
def test_apple_rules_refused_before_sending_naming_the_field(router, spec, field):
    route = router.post(f"https://api.push.apple.com/3/device/{TOKEN}").respond(200)
    [result] = backend(router).send(message(spec, title="t"), [Target(TOKEN)])
    assert result.status == DeliveryStatus.REJECTED
    assert result.error_code == "invalid_live_activity"
    assert f"live_activity[{field!r}]" in result.reason
    assert not route.called
    with pytest.raises(LiveActivityError) as caught:
        normalize(spec, has_alert=True)
    assert caught.value.field == field


def test_start_without_alert_and_oversized_payload_are_refused(router):
    route = router.post(f"https://api.push.apple.com/3/device/{TOKEN}").respond(200)
    start = live("start", attributes_type="A", attributes={})
    big = live(content_state={"text": "x" * LIVE_ACTIVITY_PAYLOAD_LIMIT})
    no_alert, too_big = backend(router).send(message(start), [Target(TOKEN)]), None
    too_big = backend(router).send(message(big), [Target(TOKEN)])
    assert no_alert[0].status == DeliveryStatus.REJECTED and "needs an alert" in no_alert[0].reason
    assert too_big[0].status == DeliveryStatus.REJECTED and too_big[0].error_code == "payload_too_large"
    assert not route.called


def test_broadcast_is_one_request_on_the_channel(router):
    route = router.post(f"https://api.push.apple.com/4/broadcasts/apps/{BUNDLE}").respond(
        200, headers={"apns-request-id": "R1"}
    )
    result = backend(router).broadcast(message(live()), "dHN0LXNyY2gtY2hubA==")
    assert result.status == DeliveryStatus.SENT and result.message_id == "R1"
    request = route.calls.last.request
    assert request.headers["apns-channel-id"] == "dHN0LXNyY2gtY2hubA=="
    assert request.headers["apns-push-type"] == "liveactivity"
    assert "apns-topic" not in request.headers
    assert json.loads(request.content)["aps"]["event"] == "update"


def test_broadcast_refuses_a_start_and_reports_a_missing_channel(router):
    router.post(f"https://api.push.apple.com/4/broadcasts/apps/{BUNDLE}").respond(
        404, json={"reason": "ChannelNotRegistered"}
    )
    b = backend(router)
    start = b.broadcast(message(live("start", attributes_type="A", attributes={}), title="t"), "Y2g=")
    assert start.status == DeliveryStatus.REJECTED and "live_activity['event']" in start.reason
    missing = b.broadcast(message(live()), "Y2g=")
    assert missing.status == DeliveryStatus.REJECTED and missing.error_code == "ChannelNotRegistered"
    with pytest.raises(ChannelError):
        b.broadcast(message(live()), "has space")


def test_channel_management_requests(router):
    manage = "https://api-manage-broadcast.sandbox.push.apple.com:2195/1/apps/com.example.app"
    create = router.post(f"{manage}/channels").respond(201, headers={"apns-channel-id": "Y2gx"})
    read = router.get(f"{manage}/channels").respond(
        200, json={"message-storage-policy": 0, "push-type": "LiveActivity"}
    )
    listing = router.get(f"{manage}/all-channels").respond(200, json={"channels": ["Y2gx", "Y2gy"]})
    delete = router.delete(f"{manage}/channels").respond(204)
    b = backend(router)
    assert b.create_channel(0, environment="sandbox") == "Y2gx"
    assert json.loads(create.calls.last.request.content) == {
        "message-storage-policy": 0,
        "push-type": "LiveActivity",
    }
    assert create.calls.last.request.headers["authorization"].startswith("bearer ")
    assert b.read_channel("Y2gx", environment="sandbox")["message-storage-policy"] == 0
    assert read.calls.last.request.headers["apns-channel-id"] == "Y2gx"
    assert b.list_channels(environment="sandbox") == ["Y2gx", "Y2gy"]
    assert listing.called
    b.delete_channel("Y2gx", environment="sandbox")
    assert delete.calls.last.request.headers["apns-channel-id"] == "Y2gx"


def test_channel_management_errors_carry_apns_reason(router):
    manage = "https://api-manage-broadcast.push.apple.com:2196/1/apps/com.example.app"
    router.get(f"{manage}/channels").respond(404, json={"reason": "ChannelNotRegistered"})
    router.delete(f"{manage}/channels").respond(400, json={"reason": "BadChannelId"})
    b = backend(router)
    with pytest.raises(ChannelError) as missing:
        b.read_channel("Y2gx")
    assert missing.value.reason == "ChannelNotRegistered" and missing.value.status_code == 404
    with pytest.raises(ChannelError) as bad:
        b.delete_channel("Y2gx")
    assert bad.value.reason == "BadChannelId" and "malformed" in str(bad.value)
    with pytest.raises(ChannelError, match="must be 0"):
        b.create_channel(2)


def test_management_urls_are_options():
    b = APNsBackend(
        alias="apns",
        team_id="T",
        key_id="K",
        key=KEY_PEM,
        topic=BUNDLE,
        management_production_url="https://127.0.0.1:9999/",
    )
    assert (
        b.management_url("production", "channels") == "https://127.0.0.1:9999/1/apps/com.example.app/channels"
    )
