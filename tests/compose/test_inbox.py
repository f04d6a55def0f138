"""The in-app inbox API: owner-scoped, unread first, counts, mark read (one, many, all)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone, translation

from django_push.compose import inbox
from django_push.compose import types as notification_types
from django_push.compose.send import send as typed_send
from django_push.models.inbox import InboxItem

from ..factories import DeviceFactory, UserFactory
from .conftest import API

pytestmark = pytest.mark.django_db

INBOX = API + "inbox/"


def item(user, title, minutes_ago=0, read=False, **extra):
    when = timezone.now() - timedelta(minutes=minutes_ago)
    return InboxItem.objects.create(
        user=user, title=title, created_at=when, read_at=when if read else None, **extra
    )


def test_list_is_unread_first_then_newest_first(api, user):
    item(user, "old unread", minutes_ago=30)
    item(user, "new read", minutes_ago=1, read=True)
    item(user, "new unread", minutes_ago=2)
    item(user, "old read", minutes_ago=40, read=True)
    body = api.get(INBOX).json()
    assert body["count"] == 4
    assert [i["title"] for i in body["results"]] == ["new unread", "old unread", "new read", "old read"]
    assert [i["read"] for i in body["results"]] == [False, False, True, True]
    only_unread = api.get(INBOX, {"unread": "true"}).json()
    assert [i["title"] for i in only_unread["results"]] == ["new unread", "old unread"]


def test_list_is_paginated(api, user):
    for n in range(25):
        item(user, f"n{n}", minutes_ago=n)
    first = api.get(INBOX).json()
    assert (first["count"], len(first["results"]), first["results"][0]["title"]) == (25, 20, "n0")
    second = api.get(first["next"]).json()
    assert [i["title"] for i in second["results"]] == [f"n{n}" for n in range(20, 25)]
    assert len(api.get(INBOX, {"page_size": 5}).json()["results"]) == 5


def test_item_fields(api, user):
    mine = item(user, "Hello", body="World", notification_type="comment", data={"post": 1})
    assert api.get(f"{INBOX}{mine.public_id}/").json() == {
        "id": str(mine.public_id),
        "type": "comment",
        "title": "Hello",
        "body": "World",
        "data": {"post": 1},
        "created_at": mine.created_at.isoformat().replace("+00:00", "Z"),
        "read_at": None,
        "read": False,
    }


def test_unread_count_and_mark_one_read(api, user):
    a = item(user, "a")
    item(user, "b")
    item(user, "c", read=True)
    assert api.get(INBOX + "unread-count/").json() == {"unread": 2}
    response = api.post(f"{INBOX}{a.public_id}/read/")
    assert response.status_code == 200 and response.json()["read"] is True
    a.refresh_from_db()
    first_read = a.read_at
    assert first_read is not None
    api.post(f"{INBOX}{a.public_id}/read/")  # idempotent: keeps the first read time
    a.refresh_from_db()
    assert a.read_at == first_read
    assert api.get(INBOX + "unread-count/").json() == {"unread": 1}


def test_mark_many_and_all(api, user, other_user):
    a, b, c = item(user, "a"), item(user, "b"), item(user, "c")
    theirs = item(other_user, "theirs")
    response = api.post(
        INBOX + "read/", {"ids": [str(a.public_id), str(b.public_id), str(theirs.public_id)]}, format="json"
    )
    assert response.json() == {"marked": 2, "unread": 1}
    theirs.refresh_from_db()
    assert theirs.read_at is None
    assert api.post(INBOX + "read/", {"ids": []}, format="json").status_code == 400
    assert api.post(INBOX + "read/", {"ids": ["nope"]}, format="json").status_code == 400
    assert api.post(INBOX + "read-all/").json() == {"marked": 1, "unread": 0}
    c.refresh_from_db()
    assert c.read_at is not None
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_another_users_item_is_404(api, other_user):
    theirs = item(other_user, "private")
    for response in (
        api.get(f"{INBOX}{theirs.public_id}/"),
        api.post(f"{INBOX}{theirs.public_id}/read/"),
        api.delete(f"{INBOX}{theirs.public_id}/"),
        api.get(f"{INBOX}{uuid.uuid4()}/"),
    ):
        assert response.status_code == 404
    assert api.get(INBOX).json()["count"] == 0
    assert api.get(INBOX + "unread-count/").json() == {"unread": 0}
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_delete_my_item(api, user):
    mine = item(user, "bye")
    assert api.delete(f"{INBOX}{mine.public_id}/").status_code == 204
    assert not InboxItem.objects.exists()


def test_anonymous_is_refused(anon_client):
    assert anon_client.get(INBOX).status_code in (401, 403)
    assert anon_client.post(INBOX + "read-all/").status_code in (401, 403)


@pytest.mark.django_db(transaction=True)
def test_items_come_in_the_request_language(api, user):
    DeviceFactory(owner=user, locale="fr-FR")
    with transaction.atomic():
        typed_send(
            "comment",
            to=user,
            title={"en": "New comment", "fr": "Nouveau commentaire"},
            body="{{ who }}",
            context={"who": "Zoé"},
        )
    with translation.override("fr"):  # what LocaleMiddleware does for "Accept-Language: fr"
        fr = api.get(INBOX).json()["results"][0]
    with translation.override("de"):  # not rendered in German: the default language
        de = api.get(INBOX).json()["results"][0]
    assert (fr["title"], fr["body"]) == ("Nouveau commentaire", "Zoé")
    assert (de["title"], de["body"]) == ("New comment", "Zoé")


def test_store_skips_users_who_turned_in_app_off():
    from django_push.models.preferences import NotificationPreference

    keep, off = UserFactory(), UserFactory()
    NotificationPreference.objects.create(user=off, notification_type="like", in_app=False)
    kind = notification_types.get("like")
    items = inbox.store(kind, [keep.pk, off.pk, keep.pk], {"en": {"title": "t", "body": "b"}})
    assert [i.user_id for i in items] == [keep.pk]
