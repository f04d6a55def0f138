"""Registration as a service: the rules hold without DRF, for every entry point."""

from __future__ import annotations

import pytest

from django_push.devices import registration
from django_push.devices.lifecycle import deactivate
from django_push.models import Device, Subscription

from ..factories import DeviceFactory, TopicFactory, UserFactory, WebPushDeviceFactory

pytestmark = pytest.mark.django_db
TOKEN = "ab" * 32
ENDPOINT = "https://fcm.googleapis.com/fcm/send/abc:def"
KEYS = {"p256dh": WebPushDeviceFactory.p256dh, "auth": "tBHItJI5svbpez7KI4CCXg"}


def register(owner, address=TOKEN, platform="apns", **values):
    return registration.register(
        platform=platform, application="default", address=address, owner=owner, values=values
    )


def test_register_is_an_idempotent_upsert():
    user = UserFactory()
    device, created = register(user, name="phone")
    again, created_again = register(user, name="phone 2")
    assert (created, created_again) == (True, False)
    assert again.pk == device.pk and Device.objects.count() == 1
    assert Device.objects.get().name == "phone 2"


def test_a_token_that_changes_hands_forgets_the_previous_owner():
    alice, bob = UserFactory(), UserFactory()
    device, _ = register(alice, name="alice's phone", locale="fr")
    Subscription.objects.create(device=device, topic=TopicFactory())
    moved, created = register(bob)
    moved.refresh_from_db()
    assert not created and moved.owner == bob
    assert (moved.name, moved.locale) == ("", "")
    assert not Subscription.objects.filter(device=moved).exists()


def test_registering_again_reactivates_and_forgets_failures():
    user = UserFactory()
    device, _ = register(user)
    Device.objects.filter(pk=device.pk).update(failure_count=2, last_failure_reason="x")
    deactivate(Device.objects.filter(pk=device.pk), "gone")
    register(user)
    device.refresh_from_db()
    assert device.active and device.failure_count == 0 and device.deactivation_reason == ""


def test_a_webpush_endpoint_needs_its_auth_secret_to_change_hands():
    victim = WebPushDeviceFactory(address=ENDPOINT, owner=UserFactory(), auth="IiIiIiIiIiIiIiIiIiIiIg")
    with pytest.raises(registration.EndpointKeysMismatch):
        register(UserFactory(), address=ENDPOINT, platform="webpush", **KEYS)
    victim.refresh_from_db()
    assert victim.auth == "IiIiIiIiIiIiIiIiIiIiIg"


def test_resubscribe_merges_only_into_a_row_with_the_same_secret():
    owner = UserFactory()
    old = WebPushDeviceFactory(owner=owner, auth="b2xkb2xkb2xkb2xkb2xkbw")
    other = WebPushDeviceFactory(address=ENDPOINT, owner=UserFactory(), auth="IiIiIiIiIiIiIiIiIiIiIg")
    with pytest.raises(registration.EndpointKeysMismatch):
        registration.resubscribe(
            old_endpoint=old.address, old_auth=old.auth, new_endpoint=ENDPOINT, new_keys=KEYS
        )
    assert Device.objects.count() == 2
    other.refresh_from_db()
    assert other.auth == "IiIiIiIiIiIiIiIiIiIiIg"

    Device.objects.filter(pk=other.pk).update(auth=KEYS["auth"])
    moved = registration.resubscribe(
        old_endpoint=old.address, old_auth=old.auth, new_endpoint=ENDPOINT, new_keys=KEYS
    )
    assert moved is not None and moved.pk == other.pk
    assert not Device.objects.filter(pk=old.pk).exists()


def test_unsubscribe_needs_the_owner_or_the_secret():
    device = WebPushDeviceFactory(owner=UserFactory())
    assert registration.unsubscribe(endpoint=device.address, auth="A" * 22, user=None) == 0
    assert registration.unsubscribe(endpoint=device.address, auth="", user=UserFactory()) == 0
    assert registration.unsubscribe(endpoint=device.address, auth=device.auth, user=None) == 1
    assert not Device.objects.exists()


def test_every_way_of_deactivating_sends_the_signal(admin_client):
    from django_push.devices.cleanup import clear_stale_devices
    from django_push.signals import device_deactivated

    seen: list[tuple[int, str]] = []

    def listener(sender, device, reason, **kwargs):
        seen.append((device.pk, reason))

    device_deactivated.connect(listener)
    try:
        by_admin, stale = DeviceFactory(), DeviceFactory()
        admin_client.post(
            "/admin/django_push/device/",
            {"action": "deactivate", "_selected_action": [by_admin.pk]},
        )
        Device.objects.filter(pk=stale.pk).update(created_at="2000-01-01T00:00:00Z")
        assert clear_stale_devices(30) == 1
    finally:
        device_deactivated.disconnect(listener)
    reasons = dict(seen)
    assert reasons[by_admin.pk].startswith("deactivated in the admin by ")
    assert reasons[stale.pk] == "stale: no successful push in 30 days"
    assert not Device.objects.filter(active=True).exists()
