"""The example project's rules: a comment notifies the post's author (push + inbox); publishing a post
announces it to the news topic."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection, transaction

from django_push import testing
from django_push.compose import events
from django_push.models import Delivery, Notification, Subscription, Topic
from django_push.models.inbox import InboxItem
from django_push.models.preferences import NotificationPreference

from ..factories import DeviceFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def demo(settings: Any) -> Iterator[Any]:
    """example_project.demo installed for the test, with its tables and its rules."""
    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "example_project.demo"]
    from example_project.demo import models, rules

    with connection.schema_editor() as editor:
        editor.create_model(models.Post)
        editor.create_model(models.Comment)
    try:
        with events.registered(*rules.RULES):
            yield models
    finally:
        with connection.schema_editor() as editor:
            editor.delete_model(models.Comment)
            editor.delete_model(models.Post)
        # Installing the app may have registered its admin; the app is gone after this test, so its
        # models must leave the shared admin site too (later admin pages would look the app up).
        from django.contrib import admin

        for model in (models.Post, models.Comment):
            if admin.site.is_registered(model):
                admin.site.unregister(model)


def test_a_comment_notifies_the_posts_author(demo):
    author, reader = UserFactory(username="alice"), UserFactory(username="bob")
    phone = DeviceFactory(owner=author)
    DeviceFactory(owner=reader)
    post = demo.Post.objects.create(author=author, title="Hello", published=True)
    with transaction.atomic():
        comment = demo.Comment.objects.create(post=post, author=reader, body="Nice post! " * 20)
        assert testing.outbox == []
    assert [e.target.key for e in testing.outbox] == [phone.pk]
    message = testing.outbox[0].message
    assert message.title == "New comment on “Hello”"
    assert message.body.startswith("bob: Nice post!") and len(message.body) <= 5 + 100
    data = {k: v for k, v in message.data.items() if k != "dp_ref"}  # dp_ref: the engagement reference
    assert (data, message.thread_id) == ({"post": post.pk, "comment": comment.pk}, f"post-{post.pk}")
    assert message.data["dp_ref"]
    item = InboxItem.objects.get()
    assert (item.user, item.notification_type, item.title) == (author, "comment", "New comment on “Hello”")
    assert item.notification == Notification.objects.get()


def test_commenting_on_your_own_post_sends_nothing(demo):
    author = UserFactory()
    DeviceFactory(owner=author)
    post = demo.Post.objects.create(author=author, title="Mine")
    demo.Comment.objects.create(post=post, author=author, body="self")
    assert testing.outbox == [] and not InboxItem.objects.exists()


def test_comment_push_honours_preferences_but_the_inbox_still_gets_it(demo):
    author, reader = UserFactory(), UserFactory()
    phone = DeviceFactory(owner=author)
    NotificationPreference.objects.create(user=author, notification_type="comment", push=False)
    post = demo.Post.objects.create(author=author, title="Quiet")
    demo.Comment.objects.create(post=post, author=reader, body="hi")
    assert testing.outbox == []
    assert Delivery.objects.get(device=phone).reason == "user opted out of comment push"
    assert InboxItem.objects.filter(user=author).count() == 1


def test_publishing_a_post_announces_it_once(demo):
    news = Topic.objects.create(name="news")
    subscriber = DeviceFactory()
    Subscription.objects.create(device=subscriber, topic=news)
    post = demo.Post.objects.create(author=UserFactory(), title="Launch", body="We are live")
    assert testing.outbox == []
    post.published = True
    post.save()
    post.title = "Launch!"
    post.save()  # still published: not a change to True
    assert [(e.target.key, e.message.title, e.message.body) for e in testing.outbox] == [
        (subscriber.pk, "New post: Launch", "We are live")
    ]
