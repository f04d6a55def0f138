"""Notification types: built-in defaults, site configuration, and what each priority means per service."""

from __future__ import annotations

import pytest
from django.db import transaction

from django_push import testing
from django_push.backends import priorities
from django_push.backends.payload import build_aps
from django_push.compose import types as notification_types
from django_push.compose.send import send as typed_send
from django_push.compose.types import parse_rate
from django_push.exceptions import PushConfigurationError
from django_push.models import Notification
from django_push.models.inbox import InboxItem

from ..factories import DeviceFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_builtin_types():
    types = notification_types.all_types()
    security = types["security_alert"]
    assert (security.priority, security.required) == ("critical", True)
    assert types["direct_message"].priority == "high"
    assert (types["like"].priority, types["like"].rate) == ("normal", (5, 3600))
    assert types["weekly_digest"].priority == "low"
    assert all(set(t.channels) == {"push", "in_app"} for t in types.values())


def test_site_changes_adds_and_removes_types(push_conf):
    push_conf(
        NOTIFICATION_TYPES={
            "like": {"rate_limit": "20/day", "channels": ["in_app"]},
            "order_shipped": {"priority": "high", "ttl": 3600, "collapse_key": "order"},
            "weekly_digest": None,
        }
    )
    types = notification_types.all_types()
    assert (types["like"].rate, types["like"].channels, types["like"].priority) == (
        (20, 86400),
        ("in_app",),
        "normal",
    )
    shipped = types["order_shipped"]
    assert (shipped.priority, shipped.ttl, shipped.collapse_key, shipped.required) == (
        "high",
        3600,
        "order",
        False,
    )
    assert "weekly_digest" not in types
    assert notification_types.lookup("weekly_digest") is None
    with pytest.raises(LookupError, match="Unknown notification type 'weekly_digest'"):
        notification_types.get("weekly_digest")


@pytest.mark.parametrize(
    ("conf", "message"),
    [
        ({"like": {"priority": "urgent"}}, r'NOTIFICATION_TYPES"\]\["like"\]\["priority"\] is \'urgent\''),
        ({"like": {"channels": ["fax"]}}, r"channels.*push, in_app, email, sms, webhook"),
        ({"like": {"rate_limit": "5 per hour"}}, r"rate_limit\"\] is '5 per hour'"),
        ({"like": {"colour": "red"}}, r"unknown key\(s\) colour"),
        ({"like": "high"}, r"must be a dict or None"),
    ],
)
def test_configuration_errors_name_the_setting(push_conf, conf, message):
    push_conf(NOTIFICATION_TYPES=conf)
    with pytest.raises(PushConfigurationError, match=message):
        notification_types.all_types()
    assert notification_types.check()


def test_parse_rate():
    assert parse_rate("5/hour") == (5, 3600)
    assert parse_rate("1/min") == (1, 60)
    assert parse_rate("100/d") == (100, 86400)
    with pytest.raises(PushConfigurationError):
        parse_rate("0/hour")


def test_each_priority_means_the_same_urgency_on_every_service():
    """One place maps our priority names to APNs, FCM and Web Push (django_push.backends.priorities)."""
    by_type = {
        name: priorities.for_priority(t.priority) for name, t in notification_types.all_types().items()
    }
    assert by_type["security_alert"] == (10, "critical", "HIGH", "high")
    assert by_type["direct_message"] == (10, "time-sensitive", "HIGH", "high")
    assert by_type["like"] == (10, "active", "HIGH", "normal")
    assert by_type["weekly_digest"] == (5, "passive", "NORMAL", "low")


def test_a_typed_send_carries_the_type_defaults_to_the_services():
    user = UserFactory()
    DeviceFactory(owner=user)
    with transaction.atomic():
        typed_send("security_alert", to=user, title="New sign-in", body="From Paris")
        typed_send("weekly_digest", to=user, title="Your week")
    alert, digest = (e.message for e in sorted(testing.outbox, key=lambda e: e.message.priority))
    assert (alert.priority, alert.title) == ("critical", "New sign-in")
    assert build_aps(alert)["interruption-level"] == "critical"
    assert (digest.priority, digest.ttl, digest.collapse_key) == ("low", 3 * 86400, "weekly_digest")
    assert build_aps(digest)["interruption-level"] == "passive"
    assert InboxItem.objects.filter(user=user).count() == 2


def test_channels_decide_push_and_inbox(push_conf):
    push_conf(NOTIFICATION_TYPES={"like": {"channels": ["in_app"]}, "comment": {"channels": ["push"]}})
    user = UserFactory()
    DeviceFactory(owner=user)
    assert typed_send("like", to=user, title="Liked") is None
    assert typed_send("comment", to=user, title="Commented") is not None
    assert list(InboxItem.objects.values_list("title", flat=True)) == ["Liked"]
    assert list(Notification.objects.values_list("title", flat=True)) == ["Commented"]
    assert [e.message.title for e in testing.outbox] == ["Commented"]


def test_unknown_type_is_refused():
    with pytest.raises(LookupError):
        typed_send("nope", to=UserFactory(), title="x")


@pytest.mark.parametrize(
    ("rules", "channels", "message"),
    [
        ([notification_types.escalate(to="fax", after=60)], ["push"], r"sends to 'fax'"),
        ([notification_types.escalate(to="email", after=60, unless="seen")], ["push"], r"unless='seen'"),
        ([notification_types.escalate(to="email", after=60, unless="read")], ["push"], r"add 'in_app'"),
        ([notification_types.digest(channel="email", after=60)], ["push"], r"add 'in_app'"),
        ([notification_types.digest(channel="sms", after=60)], ["push", "in_app"], r"use one of email"),
        (["escalate to email"], ["push"], r"rules\"\]\[0\] is 'escalate to email'"),
    ],
)
def test_rule_errors_name_the_rule(push_conf, rules, channels, message):
    push_conf(NOTIFICATION_TYPES={"payment": {"channels": channels, "rules": rules}})
    with pytest.raises(PushConfigurationError, match=message):
        notification_types.all_types()


def test_rules_are_read_from_the_type(push_conf):
    rule = notification_types.escalate(to="email", after=300)
    push_conf(NOTIFICATION_TYPES={"payment": {"priority": "high", "rules": [rule]}})
    kind = notification_types.get("payment")
    assert kind.escalations == (rule,) and kind.digests == ()
    assert rule.after.total_seconds() == 300 and rule.unless == "delivered"
