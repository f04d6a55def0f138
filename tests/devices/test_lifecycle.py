"""Token health: what the services' answers do to devices (devices.lifecycle.apply)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from django_push.devices.lifecycle import apply
from django_push.models import Device
from django_push.results import DeliveryStatus, SendResult
from django_push.signals import device_deactivated

from ..factories import DeviceFactory

pytestmark = pytest.mark.django_db
REREGISTERED = "410 Unregistered after re-registration"


def unregistered(device: Device, *, before_registration: bool = True) -> SendResult:
    """APNs' 410 for ``device``, with a timestamp before (or after) it registered."""
    offset = timedelta(days=-1 if before_registration else 1)
    return SendResult(
        DeliveryStatus.INVALID_TOKEN,
        error_code="Unregistered",
        reason="APNs answered 410 Unregistered",
        invalid_since=device.registered_at + offset,
        status_code=410,
    )


@pytest.fixture
def deactivations():
    seen: list[tuple[int, str]] = []

    def handler(sender, device, reason, **kwargs):
        seen.append((device.pk, reason))

    device_deactivated.connect(handler)
    yield seen
    device_deactivated.disconnect(handler)


def test_a_410_older_than_the_registration_counts_as_one_failure_and_keeps_the_device(deactivations):
    device = DeviceFactory()
    assert apply([(device, unregistered(device))]) == 0
    device.refresh_from_db()
    assert device.active and device.failure_count == 1
    assert device.last_failure_reason == REREGISTERED
    assert deactivations == []


def test_failure_threshold_such_answers_deactivate_it_and_send_the_signal(push_conf, deactivations):
    push_conf(FAILURE_THRESHOLD=3)
    device, other = DeviceFactory(), DeviceFactory()
    for answer in range(1, 3):
        assert apply([(device, unregistered(device)), (other, SendResult.sent())]) == 0
        device.refresh_from_db()
        assert device.active and device.failure_count == answer
    assert apply([(device, unregistered(device)), (other, SendResult.sent())]) == 1
    device.refresh_from_db()
    other.refresh_from_db()
    assert not device.active and device.deactivated_at is not None
    assert device.deactivation_reason == f"3 consecutive failures, the last: {REREGISTERED}"
    assert deactivations == [(device.pk, device.deactivation_reason)]
    assert other.active and other.failure_count == 0


def test_a_success_in_between_starts_the_count_again(push_conf):
    push_conf(FAILURE_THRESHOLD=3)
    device = DeviceFactory()
    for result in (unregistered(device), unregistered(device), SendResult.sent()):
        apply([(device, result)])
    apply([(device, unregistered(device))])
    apply([(device, unregistered(device))])
    device.refresh_from_db()
    assert device.active and device.failure_count == 2


def test_a_410_newer_than_the_registration_still_deactivates_at_once(deactivations):
    device = DeviceFactory()
    assert apply([(device, unregistered(device, before_registration=False))]) == 1
    device.refresh_from_db()
    assert not device.active and device.failure_count == 0
    assert device.deactivation_reason.startswith("Unregistered: APNs answered 410")
    assert deactivations == [(device.pk, device.deactivation_reason)]


def test_devices_over_the_threshold_are_deactivated_with_their_own_last_failure(push_conf, deactivations):
    push_conf(FAILURE_THRESHOLD=2)
    failing = DeviceFactory(failure_count=1)
    reregistered = DeviceFactory(failure_count=1)
    failed = SendResult(DeliveryStatus.FAILED, error_code="BadThing", reason="the device's fault")
    assert apply([(failing, failed), (reregistered, unregistered(reregistered))]) == 2
    reasons = dict(Device.objects.values_list("pk", "deactivation_reason"))
    assert reasons == {
        failing.pk: "2 consecutive failures, the last: BadThing: the device's fault",
        reregistered.pk: f"2 consecutive failures, the last: {REREGISTERED}",
    }
    assert sorted(deactivations) == sorted(reasons.items())


def test_an_auth_failure_never_counts_against_the_device():
    device = DeviceFactory(failure_count=2)
    apply([(device, SendResult(DeliveryStatus.FAILED, error_code="auth", reason="ours"))])
    device.refresh_from_db()
    assert device.active and device.failure_count == 2
