"""Per-user rate limits per type, on Django's cache: over the limit → skipped with the reason."""

from __future__ import annotations

import pytest
from django.db import transaction

from django_push import dispatch, testing
from django_push.compose.send import send as typed_send
from django_push.models import Delivery

from ..factories import DeviceFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _like(user):
    with transaction.atomic():
        return typed_send("like", to=user, title="Someone liked your post")


def test_over_the_limit_is_skipped_with_the_reason(clock):
    user = UserFactory()
    device = DeviceFactory(owner=user)
    sent = [_like(user) for _ in range(5)]
    over = _like(user)
    assert len(testing.outbox) == 5
    assert all(Delivery.objects.get(notification=n).status == "sent" for n in sent)
    skipped = Delivery.objects.get(notification=over, device=device)
    assert (skipped.status, skipped.reason) == ("skipped", "rate limited: like, 5/hour")
    over.refresh_from_db()
    assert (over.skipped, over.status) == (1, "done")


def test_counted_per_user_not_per_device_and_per_user_separately(clock):
    busy, other = UserFactory(), UserFactory()
    DeviceFactory.create_batch(3, owner=busy)
    DeviceFactory(owner=other)
    for _ in range(5):
        _like(busy)
    _like(other)
    assert len(testing.outbox) == 5 * 3 + 1  # five notifications reached all three devices
    last = _like(busy)
    assert set(Delivery.objects.filter(notification=last).values_list("status", flat=True)) == {"skipped"}


def test_a_users_devices_in_different_chunks_count_once(clock, push_conf):
    push_conf(CHUNK_SIZE=1)
    user = UserFactory()
    DeviceFactory.create_batch(3, owner=user)
    for _ in range(5):
        _like(user)
    assert len(testing.outbox) == 15


def test_a_new_window_starts_over(clock):
    user = UserFactory()
    DeviceFactory(owner=user)
    for _ in range(6):
        _like(user)
    assert len(testing.outbox) == 5
    clock.advance(hours=1)
    _like(user)
    assert len(testing.outbox) == 6


def test_retries_do_not_count_again(clock, push_conf):
    push_conf(NOTIFICATION_TYPES={"like": {"rate_limit": "2/hour"}})
    user = UserFactory()
    device = DeviceFactory(owner=user)
    testing.script_outcome(device.address, "unavailable", "unavailable")
    first = _like(user)  # sent on its third attempt: counted once
    second = _like(user)
    assert [Delivery.objects.get(notification=n).status for n in (first, second)] == ["sent", "sent"]
    third = _like(user)
    assert Delivery.objects.get(notification=third).reason == "rate limited: like, 2/hour"


def test_types_without_a_limit_and_untyped_notifications_are_not_limited(clock):
    user = UserFactory()
    DeviceFactory(owner=user)
    with transaction.atomic():
        for _ in range(8):
            typed_send("comment", to=user, title="c")
            dispatch.notify(audience={"users": [user.pk]}, title="untyped")
    assert len(testing.outbox) == 16
