"""The issue's decision table, one test per row, and the escalation path end to end.

critical → push + SMS + e-mail at once; high → push, then e-mail after 5 minutes unless delivered;
medium → push and in-app, then an e-mail digest after 24 hours unless read; low → e-mail only;
system-to-system → a webhook. SMS and webhooks go through the locmem backend (their provider
backends are tested with them); e-mail through Django's locmem outbox. Time is a frozen clock.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.db import transaction

from django_push import dispatch, testing
from django_push.compose.send import send as typed_send
from django_push.compose.types import digest, escalate
from django_push.dispatch import steps
from django_push.models import Delivery, Device, InboxItem, Notification, ScheduledStep
from django_push.results import DeliveryStatus

from ..factories import DeviceFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

LOCMEM = {"BACKEND": "django_push.backends.locmem.LocmemBackend"}
TYPES = {
    "breach": {"priority": "critical", "channels": ["push", "sms", "email"], "required": True},
    "payment": {
        "priority": "high",
        "channels": ["push", "in_app"],
        "rules": [escalate(to="email", after=timedelta(minutes=5), unless="delivered")],
    },
    "activity": {
        "priority": "normal",
        "channels": ["push", "in_app"],
        "rules": [digest(channel="email", after=timedelta(hours=24), unless="read")],
    },
    "marketing": {"priority": "low", "channels": ["email"]},
    "order_event": {"priority": "normal", "channels": ["webhook"]},
}


def phone(user: Any) -> str:
    return f"+1415555{user.pk:04d}"


@pytest.fixture(autouse=True)
def _table(push_conf: Any, settings: Any) -> None:
    push_conf(
        BACKENDS={**settings.DJANGO_PUSH["BACKENDS"], "sms": LOCMEM, "webhook": LOCMEM},
        PHONE_NUMBER_RESOLVER=f"{__name__}.phone",
        NOTIFICATION_TYPES=TYPES,
    )


@pytest.fixture
def person() -> Any:
    user = UserFactory()
    DeviceFactory(owner=user)
    return user


def send(kind: str, to: Any, title: str = "Hi") -> Notification:
    with transaction.atomic():
        notification = typed_send(kind, to=to, title=title, body="…")
    return Notification.objects.get(pk=notification.pk) if notification is not None else notification


def platforms(notification: Notification) -> dict[str, str]:
    return dict(Delivery.objects.filter(notification=notification).values_list("platform", "status"))


def test_critical_goes_to_push_sms_and_email_at_once(person: Any, clock: Any):
    n = send("breach", person)
    assert platforms(n) == {"apns": "sent", "sms": "sent", "email": "sent"}
    assert [e.target.address for e in testing.outbox if e.platform == "sms"] == [phone(person)]
    assert [m.to for m in mail.outbox] == [[person.email]]
    assert not ScheduledStep.objects.exists()


def test_high_pushes_then_emails_after_five_minutes_unless_delivered(person: Any, clock: Any):
    device = Device.objects.get(owner=person, platform="apns")
    testing.script_outcome(device.address, DeliveryStatus.FAILED)
    n = send("payment", person)
    assert platforms(n) == {"apns": "failed"}
    step = ScheduledStep.objects.get(notification=n)
    assert (step.kind, step.channel, step.status) == ("escalation", "email", "pending")

    clock.advance(minutes=4, seconds=59)
    dispatch.send_due()
    assert mail.outbox == []

    clock.advance(seconds=1)
    dispatch.send_due()
    step.refresh_from_db()
    assert step.status == "fired" and step.result is not None
    assert platforms(step.result) == {"email": "sent"}
    assert [(m.to, m.subject) for m in mail.outbox] == [([person.email], "Hi")]
    dispatch.send_due()
    assert len(mail.outbox) == 1


def test_a_delivered_push_does_not_escalate(person: Any, clock: Any):
    n = send("payment", person)
    assert platforms(n) == {"apns": "sent"}
    clock.advance(minutes=6)
    dispatch.send_due()
    step = ScheduledStep.objects.get(notification=n)
    assert step.status == "cancelled" and "delivered" in step.reason
    assert mail.outbox == []


def test_escalation_reaches_only_the_users_whose_push_did_not_land(clock: Any):
    landed, missed = UserFactory(), UserFactory()
    DeviceFactory(owner=landed)
    lost = DeviceFactory(owner=missed)
    testing.script_outcome(lost.address, DeliveryStatus.INVALID_TOKEN)
    send("payment", [landed, missed])
    clock.advance(minutes=5)
    dispatch.send_due()
    assert [m.to for m in mail.outbox] == [[missed.email]]


def test_a_crash_between_claim_and_record_still_escalates_exactly_once(person: Any, clock: Any, settings):
    testing.script_outcome(Device.objects.get(owner=person).address, DeliveryStatus.FAILED)
    n = send("payment", person)
    step = ScheduledStep.objects.get(notification=n)
    clock.advance(minutes=5)
    dead_claim = steps.claim_step(step.pk)  # a sweep claims it … and its process dies here
    assert dead_claim

    dispatch.send_due()  # the claim is fresh: nobody else may run the step yet
    assert mail.outbox == []

    clock.advance(seconds=settings.DJANGO_PUSH.get("IN_FLIGHT_TIMEOUT", 90) + 1)
    dispatch.send_due()  # the claim went stale: this sweep takes the step over
    dispatch.send_due()
    assert [m.to for m in mail.outbox] == [[person.email]]
    # The dead worker "comes back" with its old claim: it fires nothing.
    assert steps.run_step(step.pk, dead_claim, clock.now) == 0
    step.refresh_from_db()
    assert step.status == "fired"
    assert Notification.objects.filter(notification_type="payment").count() == 2
    assert len(mail.outbox) == 1


def test_medium_sends_one_digest_of_the_unread_items_after_a_day(person: Any, clock: Any):
    send("activity", person, title="First")
    clock.advance(hours=1)
    send("activity", person, title="Second")
    clock.advance(hours=1)
    send("activity", person, title="Read already")
    InboxItem.objects.filter(title="Read already").update(read_at=clock.now)
    assert ScheduledStep.objects.filter(kind="digest", user=person, status="pending").count() == 1

    clock.advance(hours=22)
    dispatch.send_due()
    [message] = mail.outbox
    assert message.to == [person.email]
    assert "First" in message.body and "Second" in message.body and "Read already" not in message.body
    assert message.subject == "2 unread: Activity"
    # The next item opens a new digest; nothing is mailed twice.
    send("activity", person, title="Third")
    clock.advance(hours=24)
    dispatch.send_due()
    assert len(mail.outbox) == 2 and "First" not in mail.outbox[1].body and "Third" in mail.outbox[1].body


def test_a_digest_whose_items_were_all_read_is_cancelled(person: Any, clock: Any):
    send("activity", person)
    InboxItem.objects.update(read_at=clock.now)
    clock.advance(hours=24)
    dispatch.send_due()
    assert ScheduledStep.objects.get(kind="digest").status == "cancelled"
    assert mail.outbox == []


def test_low_is_email_only(person: Any, clock: Any):
    n = send("marketing", person)
    assert platforms(n) == {"email": "sent"}
    assert [e for e in testing.outbox if e.platform == "apns"] == []
    assert mail.outbox[0].extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_system_to_system_goes_to_the_webhook_endpoint(person: Any, clock: Any):
    Device.objects.create(platform="webhook", owner=person, address="https://hooks.example.com/orders")
    n = send("order_event", person)
    assert platforms(n) == {"webhook": "sent"}
    [entry] = [e for e in testing.outbox if e.platform == "webhook"]
    assert entry.target.address == "https://hooks.example.com/orders"
    assert entry.message.title == "Hi"
    assert mail.outbox == []


def test_a_digest_covers_an_item_stored_just_before_it_opened(person: Any):
    """Real time (no frozen clock): the inbox item is stored microseconds before the digest step."""
    from django.utils import timezone

    send("activity", person, title="Real time")
    assert steps.run_due(timezone.now() + timedelta(hours=24)) == 1
    assert "Real time" in mail.outbox[0].body


def test_escalate_unless_read_follows_the_inbox(push_conf: Any, settings: Any, clock: Any):
    rule = escalate(to="sms", after=timedelta(minutes=10), unless="read")
    push_conf(NOTIFICATION_TYPES={**TYPES, "dm": {"channels": ["push", "in_app"], "rules": [rule]}})
    reader, ignorer = UserFactory(), UserFactory()
    n = send("dm", [reader, ignorer])
    InboxItem.objects.filter(notification=n, user=reader).update(read_at=clock.now)
    clock.advance(minutes=10)
    dispatch.send_due()
    sms = [e.target.address for e in testing.outbox if e.platform == "sms"]
    assert sms == [phone(ignorer)]
    assert ScheduledStep.objects.get(notification=n).reason.startswith("1 of 2 recipient(s): not read")


def test_escalate_unless_opened_follows_the_engagement_reports(push_conf: Any, clock: Any):
    from django_push.dispatch import engagement

    rule = escalate(to="email", after=timedelta(hours=1), unless="opened")
    push_conf(NOTIFICATION_TYPES={**TYPES, "offer": {"channels": ["push"], "rules": [rule]}})
    opener, ignorer = UserFactory(), UserFactory()
    DeviceFactory(owner=opener)
    DeviceFactory(owner=ignorer)
    n = send("offer", [opener, ignorer])
    assert platforms(n) == {"apns": "sent"}  # both delivered: "delivered" would cancel it for both
    # The opener's app reports the open with the reference its push carried (no login).
    [reference] = [
        e.message.data[engagement.REFERENCE_KEY]
        for e in testing.outbox
        if e.target.key is not None and Device.objects.get(pk=e.target.key).owner_id == opener.pk
    ]
    engagement.record(reference, "opened")
    clock.advance(hours=1)
    dispatch.send_due()
    assert [m.to for m in mail.outbox] == [[ignorer.email]]
    assert ScheduledStep.objects.get(notification=n).reason.startswith("1 of 2 recipient(s): not opened")
