"""Preferences: per user, per type, per channel; honoured by every send path; required types stay on."""

from __future__ import annotations

import pytest
from django.db import transaction

from django_push import dispatch, testing
from django_push.compose import types as notification_types
from django_push.compose.send import send as typed_send
from django_push.models import Delivery
from django_push.models.inbox import InboxItem
from django_push.models.preferences import NotificationPreference

from ..factories import DeviceFactory, UserFactory
from .conftest import API

pytestmark = pytest.mark.django_db(transaction=True)

PREFS = API + "preferences/"


def test_list_shows_every_type_on_by_default(api):
    body = api.get(PREFS).json()
    by_type = {p["type"]: p for p in body}
    assert set(by_type) == set(notification_types.all_types())
    assert by_type["like"] == {
        "type": "like",
        "label": "Likes",
        "description": "",
        "required": False,
        "channels": ["push", "in_app"],
        "push": True,
        "in_app": True,
        "email": False,  # not a channel of the type
        "sms": False,
        "webhook": False,
    }
    assert by_type["security_alert"]["required"] is True


def test_turn_a_channel_off_and_on(api, user):
    response = api.patch(PREFS + "like/", {"push": False}, format="json")
    assert response.status_code == 200, response.json()
    assert (response.json()["push"], response.json()["in_app"]) == (False, True)
    pref = NotificationPreference.objects.get(user=user, notification_type="like")
    assert (pref.push, pref.in_app) == (False, True)
    assert api.get(PREFS + "like/").json()["push"] is False
    assert {p["type"]: p["push"] for p in api.get(PREFS).json()}["like"] is False
    api.put(PREFS + "like/", {"push": True, "in_app": False}, format="json")
    pref.refresh_from_db()
    assert (pref.push, pref.in_app) == (True, False)


def test_required_type_cannot_be_turned_off(api, user):
    response = api.patch(PREFS + "security_alert/", {"push": False, "in_app": False}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "push": ["security_alert notifications are required and cannot be turned off."],
        "in_app": ["security_alert notifications are required and cannot be turned off."],
    }
    assert not NotificationPreference.objects.filter(user=user, push=False).exists()
    assert api.patch(PREFS + "security_alert/", {"push": True}, format="json").status_code == 200


def test_unknown_type_is_404_and_anonymous_is_refused(api, anon_client):
    assert api.patch(PREFS + "likes/", {"push": False}, format="json").status_code == 404
    assert anon_client.get(PREFS).status_code in (401, 403)


def test_preferences_are_per_user(api, other_api, user, other_user):
    api.patch(PREFS + "like/", {"push": False}, format="json")
    assert {p["type"]: p["push"] for p in other_api.get(PREFS).json()}["like"] is True


def test_broadcast_to_everyone_honours_opt_outs_with_a_reason():
    opted_out, keeps = UserFactory(), UserFactory()
    muted = DeviceFactory.create_batch(2, owner=opted_out)
    kept = DeviceFactory(owner=keeps)
    anonymous = DeviceFactory(owner=None)
    NotificationPreference.objects.create(user=opted_out, notification_type="announcement", push=False)
    with transaction.atomic():
        n = dispatch.notify(audience={"all": True}, title="Hello all", notification_type="announcement")
    n.refresh_from_db()
    assert {e.target.key for e in testing.outbox} == {kept.pk, anonymous.pk}
    assert (n.targeted, n.sent, n.skipped, n.status) == (4, 2, 2, "done")
    reasons = set(Delivery.objects.filter(device__in=muted).values_list("status", "reason"))
    assert reasons == {("skipped", "user opted out of announcement push")}


def test_required_types_ignore_opt_outs_even_in_broadcasts():
    user = UserFactory()
    device = DeviceFactory(owner=user)
    # A row written before the type became required (or by hand) is not honoured.
    NotificationPreference.objects.create(
        user=user, notification_type="security_alert", push=False, in_app=False
    )
    with transaction.atomic():
        dispatch.notify(
            audience={"all": True},
            title="Reset your password",
            notification_type="security_alert",
            priority="critical",
        )
        typed_send("security_alert", to=user, title="New sign-in")
    assert [e.target.key for e in testing.outbox] == [device.pk, device.pk]
    assert InboxItem.objects.filter(user=user).count() == 1


def test_typed_send_respects_push_and_in_app_separately():
    push_off, inbox_off = UserFactory(), UserFactory()
    a, b = DeviceFactory(owner=push_off), DeviceFactory(owner=inbox_off)
    NotificationPreference.objects.create(user=push_off, notification_type="comment", push=False)
    NotificationPreference.objects.create(user=inbox_off, notification_type="comment", in_app=False)
    with transaction.atomic():
        n = typed_send("comment", to=[push_off, inbox_off], title="New comment")
    assert [e.target.key for e in testing.outbox] == [b.pk]
    assert Delivery.objects.get(notification=n, device=a).reason == "user opted out of comment push"
    assert list(InboxItem.objects.values_list("user", flat=True)) == [push_off.pk]


def test_without_filters_nothing_is_filtered(push_conf):
    push_conf(DELIVERY_FILTERS=[])
    user = UserFactory()
    DeviceFactory(owner=user)
    NotificationPreference.objects.create(user=user, notification_type="announcement", push=False)
    with transaction.atomic():
        dispatch.notify(audience={"all": True}, title="x", notification_type="announcement")
    assert len(testing.outbox) == 1


def test_channel_preferences_for_email_sms_and_webhook(api, user, push_conf):
    push_conf(NOTIFICATION_TYPES={"invoice": {"channels": ["push", "email", "sms"]}})
    assert api.get(PREFS + "invoice/").json()["email"] is True
    response = api.patch(PREFS + "invoice/", {"email": False, "sms": False}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["email"], response.json()["sms"], response.json()["push"]) == (False, False, True)
    row = NotificationPreference.objects.get(user=user, notification_type="invoice")
    assert (row.email, row.sms, row.push) == (False, False, True)


def test_an_unknown_channel_is_a_400_field_error_not_a_silent_no_op(api, user):
    response = api.patch(PREFS + "like/", {"e-mail": False, "fax": True}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"e-mail", "fax"}
    assert "use one of push, in_app, email, sms, webhook" in body["fax"][0]
    assert not NotificationPreference.objects.filter(user=user).exists()


def test_a_required_type_refuses_email_off_too(api):
    response = api.patch(PREFS + "security_alert/", {"email": False}, format="json")
    assert response.status_code == 400 and "email" in response.json()
