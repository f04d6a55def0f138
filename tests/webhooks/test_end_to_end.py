"""Webhooks end to end: dispatch → WebhookBackend → a local HTTPS receiver that verifies every
signature with ``standardwebhooks``. Retries are driven through ``send_due`` with an advanced clock."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from django_push.devices import webhooks
from django_push.dispatch import send_due, send_message
from django_push.message import PushMessage
from django_push.models import Delivery, Device, WebhookEndpoint
from django_push.results import DeliveryStatus
from django_push.signals import webhook_endpoint_disabled

from .receiver import Receiver, start

pytestmark = pytest.mark.django_db(transaction=True)
BACKEND = "django_push.backends.webhooks.WebhookBackend"


@pytest.fixture
def receiver():
    receiver = Receiver()
    server, thread = start(receiver)
    yield receiver
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def clock(monkeypatch):
    """``clock.advance(seconds)``: Django's clock (dispatch, recording, sweeps) moves; wall time,
    which stamps ``webhook-timestamp``, does not, so receivers' replay checks still pass."""

    class Clock:
        now: datetime = timezone.now()

        def advance(self, seconds: float) -> None:
            self.now += timedelta(seconds=seconds)

    clock = Clock()
    monkeypatch.setattr(timezone, "now", lambda: clock.now)
    return clock


@pytest.fixture
def hooks_on(settings, receiver):
    def configure(**options):
        conf = dict(settings.DJANGO_PUSH)
        conf["BACKENDS"] = {
            **conf["BACKENDS"],
            "webhook": {"BACKEND": BACKEND, "OPTIONS": {"verify": receiver.cafile, **options}},
        }
        conf["WEBHOOK_ALLOWED_PRIVATE_HOSTS"] = [f"127.0.0.1:{receiver.port}"]
        conf["EAGER_RETRY_MAX_WAIT"] = 0  # every retry waits for send_due: the test drives the clock
        settings.DJANGO_PUSH = conf

    configure()
    return configure


def endpoint_for(receiver: Receiver, **values) -> WebhookEndpoint:
    endpoint, secret = webhooks.create_endpoint(url=receiver.url, **values)
    receiver.secrets["current"] = secret
    return endpoint


def send(endpoint: WebhookEndpoint, title: str = "Invoice paid", type_: str = "invoice.paid"):
    return send_message(
        PushMessage(title=title, data={"invoice": 42}), [endpoint.device], notification_type=type_
    )


def test_a_delivery_is_signed_enveloped_and_recorded(receiver, hooks_on):
    endpoint = endpoint_for(receiver)
    notification = send(endpoint)
    assert (notification.sent, notification.status) == (1, "done")
    [got] = receiver.received
    assert got.verified_with == ["current"]
    body = json.loads(got.body)
    assert body["type"] == "invoice.paid"
    assert body["data"] == {"title": "Invoice paid", "body": "", "data": {"invoice": 42}}
    assert datetime.fromisoformat(body["timestamp"]) == notification.created_at
    delivery = Delivery.objects.get(notification=notification)
    assert delivery.message_id == got.headers["webhook-id"] and delivery.message_id.startswith("msg_")


def test_500_three_times_then_200_is_one_sent_delivery_after_4_attempts_with_one_id(
    receiver, hooks_on, clock
):
    endpoint = endpoint_for(receiver)
    receiver.script.extend([500, 500, 500])
    notification = send(endpoint)
    delivery = Delivery.objects.get(notification=notification)
    waits = []
    for _ in range(3):
        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.UNAVAILABLE
        waits.append((delivery.next_attempt_at - clock.now).total_seconds())
        clock.advance(waits[-1])
        assert send_due(grace=0) == 1
    delivery.refresh_from_db()
    notification.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENT, 4)
    assert (notification.sent, notification.failed, notification.status) == (1, 0, "done")
    # Svix's schedule, ±10 % jitter: 5 s, 5 min, 30 min.
    for wait, planned in zip(waits, (5, 300, 1800), strict=True):
        assert planned * 0.89 <= wait <= planned * 1.11
    assert [r.status for r in receiver.received] == [500, 500, 500, 200]
    assert all(r.verified_with == ["current"] for r in receiver.received)
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1
    assert delivery.message_id == receiver.received[0].headers["webhook-id"]


def test_a_rotated_secret_verifies_old_and_new_receivers_during_the_overlap_only(receiver, hooks_on, clock):
    endpoint = endpoint_for(receiver)
    old = receiver.secrets.pop("current")
    new = webhooks.rotate_secret(endpoint, overlap=timedelta(hours=1))
    receiver.secrets.update(old=old, new=new)
    send(endpoint, "during")
    clock.advance(3601)
    send(endpoint, "after")
    assert [r.verified_with for r in receiver.received] == [["old", "new"], ["new"]]
    assert len(receiver.received[0].headers["webhook-signature"].split(" ")) == 2


def test_private_addresses_are_refused_at_registration(settings):
    for url in ("https://127.0.0.1:8443/h", "https://10.1.2.3/h", "https://[::1]/h", "http://example.com/h"):
        with pytest.raises(ValidationError):
            webhooks.create_endpoint(url=url)
    with pytest.raises(ValidationError, match=r"10\.0\.0\.9"):
        webhooks.create_endpoint(url="https://hooks.example.com/h", resolver=lambda host, port: ["10.0.0.9"])
    assert not WebhookEndpoint.objects.exists() and not Device.objects.exists()


def test_a_name_re_pointed_at_a_private_address_is_refused_at_send(receiver, hooks_on):
    async def rebound(host, port):
        return ["10.0.0.7"]

    hooks_on(resolver=rebound)
    endpoint, _ = webhooks.create_endpoint(
        url="https://hooks.example.com/h", resolver=lambda host, port: ["93.184.215.14"]
    )
    notification = send(endpoint)
    delivery = Delivery.objects.get(notification=notification)
    assert delivery.status == DeliveryStatus.REJECTED and "10.0.0.7" in delivery.reason
    assert receiver.received == []


def test_a_run_of_failures_disables_the_endpoint_with_a_signal(receiver, hooks_on, clock, push_conf):
    push_conf(WEBHOOK_DISABLE_AFTER_FAILURES=3, WEBHOOK_DISABLE_AFTER_SECONDS=600)
    endpoint = endpoint_for(receiver)
    receiver.script.extend([500] * 10)
    seen = []
    webhook_endpoint_disabled.connect(lambda **kw: seen.append(kw["reason"]), weak=False, dispatch_uid="t")
    try:
        send(endpoint)
        for _ in range(2):
            clock.advance(2000)
            send_due(grace=0)
    finally:
        webhook_endpoint_disabled.disconnect(dispatch_uid="t")
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 3 and endpoint.disabled_at is not None
    assert seen == [endpoint.disabled_reason] and "3 failed attempts in a row" in seen[0]
    assert not Device.objects.get(pk=endpoint.device_id).active
    webhooks.enable(endpoint)
    assert Device.objects.get(pk=endpoint.device_id).active and endpoint.consecutive_failures == 0


def test_a_few_failures_soon_after_each_other_do_not_disable(receiver, hooks_on, push_conf):
    push_conf(WEBHOOK_DISABLE_AFTER_FAILURES=1)  # 5 days still needed
    endpoint = endpoint_for(receiver)
    receiver.script.append(400)
    notification = send(endpoint)
    endpoint.refresh_from_db()
    assert endpoint.disabled_at is None and endpoint.consecutive_failures == 1
    assert Delivery.objects.get(notification=notification).status == DeliveryStatus.FAILED
    assert Device.objects.get(pk=endpoint.device_id).active  # a 4xx does not count against the device


def test_410_gone_disables_at_once(receiver, hooks_on):
    endpoint = endpoint_for(receiver)
    receiver.script.append(410)
    send(endpoint)
    endpoint.refresh_from_db()
    assert endpoint.disabled_reason == "the endpoint answered 410 Gone"
    assert not Device.objects.get(pk=endpoint.device_id).active


def test_only_subscribed_event_types_are_sent(receiver, hooks_on):
    endpoint = endpoint_for(receiver, event_types=["invoice.paid"])
    skipped = send(endpoint, type_="user.signup")
    sent = send(endpoint, type_="invoice.paid")
    assert (skipped.skipped, skipped.sent, sent.sent) == (1, 0, 1)
    assert "not subscribed to 'user.signup'" in Delivery.objects.get(notification=skipped).reason
    assert [json.loads(r.body)["type"] for r in receiver.received] == ["invoice.paid"]


def test_a_webhooks_retry_schedule_does_not_hold_back_a_push_in_the_same_chunk(receiver, hooks_on, push_conf):
    from django_push import testing

    from ..factories import DeviceFactory

    push_conf(EAGER_RETRY_MAX_WAIT=1)  # the push's quick retry runs in-process; the webhook's 5 s waits
    endpoint = endpoint_for(receiver)
    phone = DeviceFactory()
    testing.script_outcome(phone.address, "unavailable")
    receiver.script.append(500)
    notification = send_message(PushMessage(title="both"), [phone, endpoint.device])
    push = Delivery.objects.get(notification=notification, device=phone)
    hook = Delivery.objects.get(notification=notification, device=endpoint.device)
    assert (push.status, push.attempts) == (DeliveryStatus.SENT, 2)
    assert hook.status == DeliveryStatus.UNAVAILABLE and hook.attempts == 1
    assert 4.4 <= (hook.next_attempt_at - timezone.now()).total_seconds() <= 5.6


def test_the_schedule_gives_up_after_8_attempts_over_about_a_day(receiver, hooks_on, clock):
    endpoint = endpoint_for(receiver)
    receiver.script.extend([503] * 20)
    notification = send(endpoint)
    started = clock.now
    delivery = Delivery.objects.get(notification=notification)
    while delivery.status == DeliveryStatus.UNAVAILABLE:
        clock.advance((delivery.next_attempt_at - clock.now).total_seconds())
        send_due(grace=0)
        delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, len(receiver.received)) == (DeliveryStatus.FAILED, 8, 8)
    assert "gave up after 8 attempts" in delivery.reason
    assert 0.9 * 99305 <= (clock.now - started).total_seconds() <= 1.1 * 99305  # 27.6 h
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1
