import pytest
from django.db import IntegrityError, transaction

from django_push.models import Delivery, Device, Notification, Subscription, address_hash

from ..factories import DeviceFactory, TopicFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_duplicate_address_refused_by_database_even_via_bulk_create():
    device = DeviceFactory()
    twin = Device(
        platform=device.platform,
        application=device.application,
        address=device.address,
        address_hash=device.address_hash,
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Device.objects.bulk_create([twin])  # bypasses save() and Python validation


def test_bulk_create_and_bulk_update_derive_the_address_hash():
    owner = UserFactory()
    made = Device.objects.bulk_create(
        [Device(platform="fcm", owner=owner, address=f"token-{n}") for n in range(3)]  # no address_hash
    )
    assert [d.address_hash for d in made] == [address_hash(f"token-{n}") for n in range(3)]
    stored = Device.objects.get(address="token-1")
    assert stored.address_hash == address_hash("token-1")
    assert Device.objects.by_address("fcm", "default", "token-2").get().pk == made[2].pk
    with pytest.raises(IntegrityError), transaction.atomic():  # the unique key works for bulk imports
        Device.objects.bulk_create([Device(platform="fcm", address="token-0")])
    stored.address = "token-renewed"
    Device.objects.bulk_update([stored], ["address"])
    stored.refresh_from_db()
    assert stored.address_hash == address_hash("token-renewed")


def test_long_webpush_endpoints_are_unique_by_hash():
    endpoint = "https://fcm.googleapis.com/fcm/send/" + "x" * 3000
    Device.objects.create(platform="webpush", address=endpoint)
    with pytest.raises(IntegrityError), transaction.atomic():
        Device.objects.create(platform="webpush", address=endpoint)
    Device.objects.create(platform="webpush", address=endpoint + "y")
    assert Device.objects.filter(platform="webpush").count() == 2


def test_same_token_allowed_for_other_application_or_platform():
    d = DeviceFactory()
    Device.objects.create(platform=d.platform, application="other", address=d.address)
    Device.objects.create(platform="fcm", address=d.address)
    assert Device.objects.filter(address=d.address).count() == 3


def test_address_hash_follows_address_on_update_fields():
    d = DeviceFactory()
    d.address = "f" * 64
    d.save(update_fields=["address"])
    assert Device.objects.by_address("apns", "default", "f" * 64).get() == d


def test_subscription_and_delivery_unique():
    d, t = DeviceFactory(), TopicFactory()
    Subscription.objects.create(device=d, topic=t)
    with pytest.raises(IntegrityError), transaction.atomic():
        Subscription.objects.create(device=d, topic=t)
    n = Notification.objects.create(title="x")
    Delivery.objects.create(notification=n, device=d, platform="apns")
    with pytest.raises(IntegrityError), transaction.atomic():
        Delivery.objects.create(notification=n, device=d, platform="apns")


def test_querysets_scope_by_owner_and_state():
    alice, bob = UserFactory(), UserFactory()
    a = DeviceFactory(owner=alice)
    DeviceFactory(owner=bob)
    DeviceFactory(owner=alice, active=False)
    from django.contrib.auth.models import AnonymousUser

    assert list(Device.objects.for_user(alice).active()) == [a]
    assert list(Device.objects.for_user(AnonymousUser())) == []


def test_masked_address_hides_the_token():
    d = DeviceFactory(address="0123456789abcdef" * 4)
    assert (
        d.masked_address == "012345…cdef" and d.address not in str(d) and d.address not in repr(d.to_target())
    )


def test_notification_to_message_round_trip():
    n = Notification.objects.create(
        title="T",
        body="B",
        data={"k": 1},
        priority="high",
        ttl=60,
        collapse_key="c",
        options={"badge": 3, "sound": "ping", "junk": 1},
    )
    m = n.to_message()
    assert (m.title, m.body, m.data, m.priority, m.ttl, m.collapse_key, m.badge, m.sound) == (
        "T",
        "B",
        {"k": 1},
        "high",
        60,
        "c",
        3,
        "ping",
    )
