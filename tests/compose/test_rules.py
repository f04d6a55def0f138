"""Rules from model events: on commit only, field changes, skip conditions, registration, switches."""

from __future__ import annotations

import logging

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from django_push import testing
from django_push.compose import events
from django_push.compose.events import Rule
from django_push.exceptions import PushConfigurationError
from django_push.models import Notification, Topic
from django_push.models.inbox import InboxItem

from ..factories import DeviceFactory, UserFactory
from .sample_rules import deactivated, email_changed, topic_created, topic_deleted

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def staff():
    user = UserFactory(is_staff=True)
    DeviceFactory.create_batch(2, owner=user)
    return user


def test_rule_fires_on_commit_and_a_rollback_sends_nothing(staff):
    with events.registered(topic_created):
        with pytest.raises(RuntimeError), transaction.atomic():
            Topic.objects.create(name="lost")
            raise RuntimeError
        assert testing.outbox == [] and not Notification.objects.exists() and not InboxItem.objects.exists()

        with transaction.atomic():
            Topic.objects.create(name="kept", description="Fresh")
            assert testing.outbox == [] and not Notification.objects.exists()
    n = Notification.objects.get()
    assert (n.notification_type, n.title, n.body, n.data) == (
        "announcement",
        "New topic kept",
        "Fresh",
        {"topic": "kept"},
    )
    assert n.status == "done" and len(testing.outbox) == 2
    assert {e.message.title for e in testing.outbox} == {"New topic kept"}
    item = InboxItem.objects.get()
    assert (item.user, item.notification, item.title) == (staff, n, "New topic kept")


def test_unregistered_rule_no_longer_fires(staff):
    with events.registered(topic_created):
        Topic.objects.create(name="one")
    Topic.objects.create(name="two")
    assert list(Notification.objects.values_list("title", flat=True)) == ["New topic one"]


def test_update_rule_fires_only_when_its_field_changes():
    user = UserFactory(email="old@example.com")
    DeviceFactory(owner=user)
    with events.registered(email_changed):
        user.first_name = "Ann"
        user.save()
        assert not Notification.objects.exists()
        user.email = "new@example.com"
        user.save()
        n = Notification.objects.get()
        assert n.body == "old@example.com → new@example.com"
        assert n.priority == "critical" and n.notification_type == "security_alert"
        user.save()  # saved again, unchanged since the last save
        assert Notification.objects.count() == 1
        # Loaded fresh from the database: compares against what was loaded.
        again = type(user).objects.get(pk=user.pk)
        again.email = "newer@example.com"
        again.save()
    assert list(Notification.objects.order_by("pk").values_list("body", flat=True)) == [
        "old@example.com → new@example.com",
        "new@example.com → newer@example.com",
    ]


def test_a_field_left_out_of_update_fields_did_not_change():
    user = UserFactory(email="a@example.com")
    with events.registered(email_changed):
        user.email = "b@example.com"
        user.first_name = "Bo"
        user.save(update_fields=["first_name"])
        assert not Notification.objects.exists()
        user.save(update_fields=["email"])
    assert Notification.objects.get().body == "a@example.com → b@example.com"


def test_changes_to_a_value():
    user = UserFactory(is_active=True)
    with events.registered(deactivated):
        user.is_active = False
        user.save()
        user.is_active = True
        user.save()
    assert list(Notification.objects.values_list("title", flat=True)) == [
        f"Account {user.username} deactivated"
    ]


def test_loaded_instances_need_no_extra_query_and_unloaded_ones_one():
    user = UserFactory(email="x@example.com")
    User = type(user)
    select_user = f'FROM "{User._meta.db_table}"'
    with events.registered(email_changed):
        loaded = User.objects.get(pk=user.pk)
        loaded.email = "y@example.com"
        with transaction.atomic(), CaptureQueriesContext(connection) as queries:
            loaded.save()
        assert not [q for q in queries if q["sql"].startswith("SELECT") and select_user in q["sql"]]

        unloaded = User(pk=user.pk, username=user.username, password=user.password, email="z@example.com")
        with transaction.atomic(), CaptureQueriesContext(connection) as queries:
            unloaded.save()
        reads = [q for q in queries if q["sql"].startswith("SELECT") and select_user in q["sql"]]
        assert len(reads) == 1
    assert list(Notification.objects.order_by("pk").values_list("body", flat=True)) == [
        "x@example.com → y@example.com",
        "y@example.com → z@example.com",
    ]


def test_skip_condition(staff):
    rule = Rule(
        model=Topic,
        on="create",
        notification_type="announcement",
        recipients=lambda topic: staff,
        title="{{ topic.name }}",
        skip_if=lambda topic, event: topic.name.startswith("internal-") and event.kind == "create",
    )
    with events.registered(rule):
        Topic.objects.create(name="internal-ops")
        Topic.objects.create(name="public")
    assert list(Notification.objects.values_list("title", flat=True)) == ["public"]


def test_delete_rule_renders_the_deleted_instance(staff):
    topic = Topic.objects.create(name="old")
    pk = topic.pk
    with events.registered(topic_deleted):
        topic.delete()
    assert Notification.objects.get().title == f"Topic old (#{pk}) is gone"


def test_recipients_may_be_a_topic_devices_or_users(staff):
    news = Topic.objects.create(name="news")
    device = DeviceFactory()
    device.subscriptions.create(topic=news)
    lone = DeviceFactory(owner=None)
    rule = Rule(
        model=Topic,
        on="create",
        notification_type="announcement",
        recipients=lambda topic: ["news", lone, staff],
        title="t",
    )
    with events.registered(rule):
        Topic.objects.create(name="sports")
    n = Notification.objects.get()
    assert n.audience == {"users": [staff.pk], "devices": [lone.pk], "topics": ["news"]}
    assert {e.target.key for e in testing.outbox} == {
        device.pk,
        lone.pk,
        *staff.push_devices.values_list("pk", flat=True),
    }
    assert list(InboxItem.objects.values_list("user", flat=True)) == [staff.pk]


def test_nobody_to_notify_sends_nothing():
    rule = Rule(
        model=Topic, on="create", notification_type="announcement", recipients=lambda t: [], title="t"
    )
    with events.registered(rule):
        Topic.objects.create(name="empty")
    assert not Notification.objects.exists()


def test_disabled_context_manager_and_setting(staff, push_conf):
    with events.registered(topic_created):
        with events.disabled():
            Topic.objects.create(name="quiet")
        push_conf(EVENTS_ENABLED=False)
        Topic.objects.create(name="also-quiet")
        push_conf(EVENTS_ENABLED=True)
        Topic.objects.create(name="loud")
    assert list(Notification.objects.values_list("title", flat=True)) == ["New topic loud"]


def test_rules_listed_in_the_setting(staff, push_conf):
    push_conf(EVENT_RULES=["tests.compose.sample_rules.RULES", "tests.compose.sample_rules.topic_deleted"])
    topic = Topic.objects.create(name="from-settings")
    pk = topic.pk
    topic.delete()
    push_conf(EVENT_RULES=[])
    Topic.objects.create(name="after")
    assert sorted(Notification.objects.values_list("title", flat=True)) == [
        "New topic from-settings",
        f"Topic from-settings (#{pk}) is gone",
    ]


def test_a_bad_setting_says_which_entry(push_conf):
    push_conf(EVENT_RULES=["tests.compose.sample_rules.User"])
    with pytest.raises(PushConfigurationError, match="must name a Rule or a list of Rules"):
        events.rules()


def test_a_failing_rule_is_logged_and_never_breaks_the_save(caplog):
    rule = Rule(
        model=Topic,
        on="create",
        notification_type="announcement",
        recipients=lambda topic: 1 / 0,
        title="t",
        name="broken",
    )
    with events.registered(rule), caplog.at_level(logging.ERROR, logger="django_push.compose.events"):
        Topic.objects.create(name="still-saved")
    assert Topic.objects.filter(name="still-saved").exists()
    assert "event rule broken failed for create" in caplog.text and "ZeroDivisionError" in caplog.text


def test_rule_validation():
    with pytest.raises(PushConfigurationError, match="use one or more of create, update, delete"):
        Rule(model=Topic, on="saved", notification_type="x", recipients=lambda t: None)
    with pytest.raises(PushConfigurationError, match="changes_to= needs field="):
        Rule(model=Topic, on="update", changes_to=1, notification_type="x", recipients=lambda t: None)
    bad_field = Rule(model=Topic, on="update", field="nope", notification_type="x", recipients=lambda t: None)
    with pytest.raises(PushConfigurationError, match="nope"):
        events.register(bad_field)
    assert bad_field not in events.rules()
    with pytest.raises(PushConfigurationError, match=r"unknown model 'blog\.Missing'"):
        Rule(model="blog.Missing", notification_type="x", recipients=lambda t: None).get_model()


def test_field_rule_on_create_checks_the_initial_value(staff):
    rule = Rule(
        model=Topic,
        on=["create", "update"],
        field="self_subscribe",
        changes_to=False,
        notification_type="announcement",
        recipients=lambda topic: staff,
        title="{{ event.kind }} {{ topic.name }}",
    )
    with events.registered(rule):
        Topic.objects.create(name="open")
        managed = Topic.objects.create(name="managed", self_subscribe=False)
        opened = Topic.objects.get(name="open")
        opened.self_subscribe = False
        opened.save()
        managed.description = "still managed"
        managed.save()
    assert sorted(Notification.objects.values_list("title", flat=True)) == ["create managed", "update open"]
