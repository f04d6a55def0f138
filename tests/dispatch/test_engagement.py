"""Signed delivery references in every push, and set-based, idempotent recording of reports."""

import json
import uuid

import pytest
from django.core import signing

from django_push import dispatch, testing
from django_push.backends.payload import apns_payload, fcm_message, webpush_payload
from django_push.dispatch import engagement
from django_push.message import PushMessage
from django_push.models import Delivery, Notification

from ..factories import DeviceFactory, WebPushDeviceFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _sent(*devices):
    n = dispatch.send_message(PushMessage(title="Hi", body="there", data={"k": "v"}), list(devices))
    refs = {e.target.key: e.message.data[engagement.REFERENCE_KEY] for e in testing.outbox}
    return n, refs


def test_references_do_not_split_a_chunk_into_one_batch_per_device(monkeypatch):
    from django_push.backends.locmem import LocmemBackend

    batches = []
    original = LocmemBackend.asend

    async def counting(self, message, targets, on_result=None, *, messages=None):
        batches.append((len(targets), None if messages is None else len(messages)))
        return await original(self, message, targets, on_result, messages=messages)

    monkeypatch.setattr(LocmemBackend, "asend", counting)
    devices = DeviceFactory.create_batch(40)
    _, refs = _sent(*devices)
    assert batches == [(40, 40)]  # one batch, a message per target
    assert len(set(refs.values())) == 40


def test_every_push_carries_its_own_reference_in_each_platforms_data():
    apns, fcm, web = DeviceFactory(), DeviceFactory(platform="fcm"), WebPushDeviceFactory()
    n, refs = _sent(apns, fcm, web)
    assert len(set(refs.values())) == 3  # one per delivery, not per batch
    for entry in testing.outbox:
        assert entry.message.data["k"] == "v"  # the notification's own data is kept
        assert engagement.verify(refs[entry.target.key]) == (n.public_id, entry_device(entry).public_id)
    message = next(e.message for e in testing.outbox if e.platform == "apns")
    assert apns_payload(message)["dp_ref"] == refs[apns.pk]
    message = next(e.message for e in testing.outbox if e.platform == "fcm")
    assert fcm_message(message, 0)["data"]["dp_ref"] == refs[fcm.pk]
    message = next(e.message for e in testing.outbox if e.platform == "webpush")
    assert webpush_payload(message)["data"]["dp_ref"] == refs[web.pk]


def entry_device(entry):
    from django_push.models import Device

    return Device.objects.get(pk=entry.target.key)


def test_tracking_off_adds_nothing(settings):
    settings.DJANGO_PUSH = {**settings.DJANGO_PUSH, "ENGAGEMENT_TRACKING": False}
    dispatch.send_message(PushMessage(title="Hi"), [DeviceFactory()])
    assert engagement.REFERENCE_KEY not in testing.outbox[0].message.data


def test_click_implies_open_and_display_and_counts_once():
    device = DeviceFactory()
    n, refs = _sent(device)
    assert engagement.record(refs[device.pk], "clicked").recorded == ("displayed", "opened", "clicked")
    assert engagement.record(refs[device.pk], "clicked").recorded == ()  # a repeat changes nothing
    assert engagement.record(refs[device.pk], "opened").recorded == ()
    n.refresh_from_db()
    assert (n.displayed, n.opened, n.clicked) == (1, 1, 1)
    delivery = Delivery.objects.get(notification=n)
    assert delivery.opened_at is not None and delivery.clicked_at is not None


def test_open_then_click_counts_each_stage_once():
    a, b = DeviceFactory(), DeviceFactory()
    n, refs = _sent(a, b)
    engagement.record(refs[a.pk], "opened")
    engagement.record(refs[b.pk], "displayed")
    assert engagement.record(refs[a.pk], "clicked").recorded == ("clicked",)
    n.refresh_from_db()
    assert (n.displayed, n.opened, n.clicked) == (2, 1, 1)


def test_forged_expired_and_foreign_references_are_refused(settings):
    device = DeviceFactory()
    n, refs = _sent(device)
    forged = refs[device.pk][:-2] + ("AA" if not refs[device.pk].endswith("AA") else "BB")
    with pytest.raises(engagement.EngagementRefused, match="not genuine") as info:
        engagement.record(forged, "opened")
    assert info.value.status == 403
    other_salt = signing.dumps([n.public_id.hex, device.public_id.hex], salt="another.use")
    with pytest.raises(engagement.EngagementRefused, match="not genuine"):
        engagement.record(other_salt, "opened")
    settings.DJANGO_PUSH = {**settings.DJANGO_PUSH, "ENGAGEMENT_MAX_AGE": 1}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(signing.time, "time", lambda: 1000.0)
        stale = engagement.sign(n.public_id, device.public_id)
    with pytest.raises(engagement.EngagementRefused, match="expired") as info:
        engagement.record(stale, "opened")
    assert info.value.status == 403
    # A genuine reference for a delivery that does not exist (another notification, same device).
    with pytest.raises(engagement.EngagementRefused) as info:
        engagement.record(engagement.sign(uuid.uuid4(), device.public_id), "opened")
    assert info.value.status == 404
    n.refresh_from_db()
    assert n.opened == 0


def test_unknown_event_is_a_400():
    with pytest.raises(engagement.EngagementRefused, match="Unknown event") as info:
        engagement.record("x", "liked")
    assert info.value.status == 400
    assert Notification.objects.count() == 0
    assert json.dumps(engagement.EVENTS)  # the vocabulary the API documents


def test_a_chunks_references_are_what_sign_makes_and_verify_accepts():
    """references() signs a chunk with one timestamp and one keyed HMAC: each reference must be
    byte for byte what django.core.signing makes (sign()), and verify() must accept it."""
    from unittest import mock

    from django_push.dispatch import engagement as eng
    from django_push.models import Notification

    devices = DeviceFactory.create_batch(3)
    notification = Notification.objects.create(title="refs")
    with mock.patch("django.core.signing.time.time", return_value=1_800_000_000):
        refs = eng.references(notification, devices)
        assert refs == {d.pk: eng.sign(notification.public_id, d.public_id) for d in devices}
    for d in devices:
        assert eng.verify(refs[d.pk]) == (notification.public_id, d.public_id)
