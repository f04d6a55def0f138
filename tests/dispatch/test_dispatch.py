import pytest
from django.db import transaction

from django_push import dispatch, testing
from django_push.backends.locmem import LocmemBackend
from django_push.message import PushMessage
from django_push.models import Delivery, Device, Notification, Subscription
from django_push.results import DeliveryStatus, SendResult
from django_push.signals import device_deactivated, post_send, pre_send

from ..factories import DeviceFactory, TopicFactory, UserFactory, WebPushDeviceFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_send_message_groups_by_platform_and_records_deliveries():
    apns = DeviceFactory.create_batch(3)
    web = WebPushDeviceFactory.create_batch(2)
    n = dispatch.send_message(PushMessage(title="Hi", body="there"), [*apns, *web])
    assert n.status == "done"
    assert (n.targeted, n.sent, n.failed, n.invalid, n.pending) == (5, 5, 0, 0, 0)
    assert sorted(e.platform for e in testing.outbox) == ["apns"] * 3 + ["webpush"] * 2
    assert set(Delivery.objects.filter(notification=n).values_list("status", flat=True)) == {"sent"}
    assert Device.objects.filter(last_success_at__isnull=False).count() == 5


def test_invalid_token_deactivates_with_reason_and_signal():
    good, bad = DeviceFactory.create_batch(2)
    testing.script_outcome(bad.address, SendResult(DeliveryStatus.INVALID_TOKEN, error_code="Unregistered"))
    seen = []
    handler = lambda sender, device, reason, **kw: seen.append((device.pk, reason))  # noqa: E731
    device_deactivated.connect(handler)
    try:
        n = dispatch.send_message(PushMessage(title="x"), [good, bad])
    finally:
        device_deactivated.disconnect(handler)
    bad.refresh_from_db()
    good.refresh_from_db()
    assert not bad.active and bad.deactivation_reason.startswith("Unregistered") and bad.deactivated_at
    assert good.active
    assert seen == [(bad.pk, bad.deactivation_reason)]
    assert (n.sent, n.invalid) == (1, 1)


def test_invalid_since_before_reregistration_keeps_device():
    from datetime import timedelta

    from django.utils import timezone

    device = DeviceFactory()
    testing.script_outcome(
        device.address,
        SendResult(DeliveryStatus.INVALID_TOKEN, invalid_since=timezone.now() - timedelta(days=1)),
    )
    dispatch.send_message(PushMessage(title="x"), [device])
    device.refresh_from_db()
    assert device.active


def test_failures_count_and_deactivate_at_threshold_success_resets():
    device = DeviceFactory()
    for _ in range(2):
        testing.script_outcome(device.address, "failed")
        dispatch.send_message(PushMessage(title="x"), [device])
    device.refresh_from_db()
    assert device.failure_count == 2 and device.active
    dispatch.send_message(PushMessage(title="x"), [device])
    device.refresh_from_db()
    assert device.failure_count == 0 and device.last_success_at
    for _ in range(3):
        testing.script_outcome(device.address, "failed")
        dispatch.send_message(PushMessage(title="x"), [device])
    device.refresh_from_db()
    assert not device.active and "3 consecutive failures" in device.deactivation_reason


def test_transient_failures_are_retried_only_for_those_targets():
    a, b = DeviceFactory.create_batch(2)
    testing.script_outcome(b.address, "unavailable", "throttled")
    n = dispatch.send_message(PushMessage(title="x"), [a, b])
    sends = [e.target.address for e in testing.outbox]
    assert sends.count(a.address) == 1 and sends.count(b.address) == 3
    d = Delivery.objects.get(notification=n, device=b)
    assert (d.status, d.attempts) == ("sent", 3)
    assert n.sent == 2


def test_gives_up_after_max_attempts_with_reason(settings):
    settings.DJANGO_PUSH = {**settings.DJANGO_PUSH, "MAX_ATTEMPTS": 2}
    device = DeviceFactory()
    testing.script_outcome(device.address, "unavailable", "unavailable", "unavailable")
    n = dispatch.send_message(PushMessage(title="x"), [device])
    d = Delivery.objects.get(notification=n)
    assert (d.status, d.attempts) == ("failed", 2)
    assert d.reason.startswith("gave up after 2 attempts")
    assert n.status == "failed" and n.failed == 1


def test_pre_send_can_cancel():
    device = DeviceFactory()
    handler = lambda sender, notification, **kw: False  # noqa: E731
    pre_send.connect(handler)
    try:
        n = dispatch.send_message(PushMessage(title="x"), [device])
    finally:
        pre_send.disconnect(handler)
    assert n.status == "cancelled" and testing.outbox == [] and not Delivery.objects.exists()


def test_post_send_reports_outcomes():
    devices = DeviceFactory.create_batch(2)
    got = []
    handler = lambda sender, notification, outcomes, **kw: got.extend(outcomes)  # noqa: E731
    post_send.connect(handler)
    try:
        dispatch.send_message(PushMessage(title="x"), devices)
    finally:
        post_send.disconnect(handler)
    assert sorted(d.pk for d, r in got) == sorted(d.pk for d in devices)
    assert all(r.ok for _, r in got)


def test_notify_sends_on_commit_and_rollback_sends_nothing():
    user = UserFactory()
    DeviceFactory.create_batch(2, owner=user)
    with pytest.raises(RuntimeError), transaction.atomic():
        dispatch.notify(title="lost", audience={"users": [user.pk]})
        raise RuntimeError
    assert testing.outbox == [] and not Notification.objects.exists()
    with transaction.atomic():
        n = dispatch.notify(title="kept", audience={"users": [user.pk]})
        assert testing.outbox == []
    n.refresh_from_db()
    assert len(testing.outbox) == 2 and n.status == "done"


def test_rerun_chunk_never_resends_a_sent_delivery():
    devices = DeviceFactory.create_batch(3)
    n = dispatch.send_message(PushMessage(title="x"), devices)
    dispatch.process_chunk(n.pk, [d.pk for d in devices])
    assert len(testing.outbox) == 3
    n.refresh_from_db()
    assert n.sent == 3


def test_topic_audience_chunks(settings):
    settings.DJANGO_PUSH = {**settings.DJANGO_PUSH, "CHUNK_SIZE": 2}
    topic = TopicFactory(name="news")
    subscribed = DeviceFactory.create_batch(5)
    DeviceFactory.create_batch(2)
    Subscription.objects.bulk_create([Subscription(device=d, topic=topic) for d in subscribed])
    with transaction.atomic():
        n = dispatch.notify(title="t", audience={"topics": ["news"]})
    n.refresh_from_db()
    assert sorted(e.target.key for e in testing.outbox) == sorted(d.pk for d in subscribed)
    assert n.targeted == 5 and n.sent == 5 and n.status == "done"


def test_inactive_device_skipped_with_reason():
    device = DeviceFactory(active=False)
    n = dispatch.create(audience={"devices": [device.pk]}, title="x")
    dispatch.process_chunk(n.pk, [device.pk])
    d = Delivery.objects.get(notification=n)
    assert d.status == "skipped" and d.reason == "device inactive"


def test_missing_backend_fails_delivery_with_reason(settings):
    settings.DJANGO_PUSH = {**settings.DJANGO_PUSH, "BACKENDS": {}}
    device = DeviceFactory()
    n = dispatch.send_message(PushMessage(title="x"), [device])
    d = Delivery.objects.get(notification=n)
    assert d.status == "failed" and "no backend for platform 'apns'" in d.reason


def test_cancel_scheduled_before_start():
    from datetime import timedelta

    from django.utils import timezone

    device = DeviceFactory()
    n = dispatch.notify(
        title="later", audience={"devices": [device.pk]}, scheduled_at=timezone.now() + timedelta(hours=1)
    )
    assert n.status == "scheduled"
    assert dispatch.send_due() == 0
    assert dispatch.cancel(n) and n.status == "cancelled"
    Notification.objects.filter(pk=n.pk).update(scheduled_at=timezone.now())
    dispatch.send_due()
    assert testing.outbox == []


def test_scheduled_goes_out_when_due():
    from datetime import timedelta

    from django.utils import timezone

    device = DeviceFactory()
    n = dispatch.notify(
        title="later", audience={"devices": [device.pk]}, scheduled_at=timezone.now() + timedelta(hours=1)
    )
    # send_due told the wrong time queues it, but plan() itself refuses what is not due yet:
    assert dispatch.send_due(now=timezone.now() + timedelta(hours=2)) == 1
    n.refresh_from_db()
    assert n.status == "scheduled" and testing.outbox == []
    Notification.objects.filter(pk=n.pk).update(scheduled_at=timezone.now() - timedelta(seconds=1))
    assert dispatch.send_due() == 1
    n.refresh_from_db()
    assert n.status == "done" and len(testing.outbox) == 1


def test_device_deleted_after_planning_is_counted_as_skipped():
    keep, gone = DeviceFactory.create_batch(2)
    n = dispatch.create(audience={"devices": [keep.pk, gone.pk]}, title="x")
    ids = [keep.pk, gone.pk]
    gone.delete()
    Notification.objects.filter(pk=n.pk).update(status="sending", targeted=2, planned_at=n.created_at)
    dispatch.process_chunk(n.pk, ids)
    n.refresh_from_db()
    assert (n.sent, n.skipped, n.status) == (1, 1, "done")


def test_refused_credentials_do_not_count_against_devices(settings):
    from django_push.exceptions import PushAuthError

    class RefusingBackend(LocmemBackend):
        async def prepare(self, message):
            raise PushAuthError(
                "APNs refused our credentials: InvalidProviderToken", reason="InvalidProviderToken"
            )

    settings.DJANGO_PUSH = {
        **settings.DJANGO_PUSH,
        "BACKENDS": {"apns": {"BACKEND": RefusingBackend.__module__ + "._Refusing"}},
    }
    import sys

    sys.modules[__name__]._Refusing = RefusingBackend
    device = DeviceFactory()
    for _ in range(4):
        n = dispatch.send_message(PushMessage(title="x"), [device])
    device.refresh_from_db()
    d = Delivery.objects.get(notification=n)
    assert (d.status, d.error_code) == ("failed", "auth") and "InvalidProviderToken" in d.reason
    assert device.active and device.failure_count == 0
