"""The composer's live reach (compose/reach/), the audience in words, and the rendered looks."""

import pytest
from django.core.cache import cache
from django.urls import reverse

from django_push.admin import looks, reach
from django_push.message import PushMessage

from ..factories import DeviceFactory, UserFactory, WebPushDeviceFactory
from .conftest import staff_with

pytestmark = pytest.mark.django_db
REACH = "admin:django_push_notification_compose_reach"


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


def test_reach_counts_by_platform_and_spells_the_audience_out(admin_client, news):
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    DeviceFactory(owner=alice, platform="fcm")
    WebPushDeviceFactory(owner=bob)
    data = admin_client.get(reverse(REACH), {"topics": ["news"], "users": "alice, bob"}).json()
    assert data["total"] == 5 and data["cached"] is False
    assert {row["platform"]: row["count"] for row in data["by_platform"]} == {
        "apns": 2,
        "fcm": 1,
        "webpush": 2,
    }
    assert data["sentence"] == "subscribers of news or devices of alice, bob"
    narrowed = admin_client.get(
        reverse(REACH), {"topics": ["news"], "users": "alice, bob", "platforms": ["apns", "webpush"]}
    ).json()
    assert narrowed["total"] == 4
    assert (
        narrowed["sentence"] == "subscribers of news or devices of alice, bob — only Apple (APNs), Web Push"
    )


def test_reach_is_cached_and_says_so(admin_client, news):
    first = admin_client.get(reverse(REACH), {"everyone": "on"}).json()
    DeviceFactory()
    again = admin_client.get(reverse(REACH), {"everyone": "on"}).json()
    assert (first["total"], again["total"], again["cached"]) == (4, 4, True)
    assert reach.count({"all": True}, use_cache=False)["total"] == 5  # the preview step counts afresh


def test_reach_bad_audience_is_a_400_with_field_errors(admin_client):
    response = admin_client.get(reverse(REACH), {"users": "nobody-here", "audience_json": "{"})
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert "nobody-here" in errors["users"][0] and "audience_json" in errors


def test_reach_of_nobody_and_without_a_message(admin_client):
    data = admin_client.get(reverse(REACH)).json()
    assert data["total"] == 0 and "nobody" in data["sentence"]


def test_reach_needs_the_permission(client):
    client.force_login(staff_with("view_notification"))
    response = client.get(reverse(REACH), {"everyone": "on"})
    assert response.status_code == 403 and "Can compose and send broadcasts" in response.content.decode()


def test_compose_page_has_the_live_reach_box(admin_client):
    html = admin_client.get(reverse("admin:django_push_notification_compose")).content.decode()
    assert f'data-url="{reverse(REACH)}"' in html and "django_push/admin/compose.js" in html


def test_looks_truncate_per_surface():
    message = PushMessage(title="Big news today", body="word " * 60)
    by_key = {look.surface.key: look for look in looks.render_all(message)}
    assert set(by_key) == {"ios", "android", "desktop"}
    assert len(by_key["android"].body) == 48 and by_key["android"].body.endswith("…")
    assert len(by_key["ios"].body) == 178 and by_key["ios"].body_cut
    assert by_key["ios"].title == "Big news today" and not by_key["ios"].title_cut
    short = {look.surface.key: look for look in looks.render_all(PushMessage(title="Hi", body="there"))}
    assert not any(look.cut for look in short.values())
    assert looks.render_all(PushMessage(push_type="background", content_available=True)) == []


def test_preview_step_shows_the_looks(admin_client, news):
    response = admin_client.post(
        reverse("admin:django_push_notification_compose"),
        {
            "title": "Hello",
            "body": "x" * 100,
            "topics": ["news"],
            "priority": "normal",
            "push_type": "alert",
            "_preview": "1",
        },
    )
    html = response.content.decode()
    assert 'data-surface="android" data-cut="true"' in html and 'data-surface="ios" data-cut="false"' in html
    assert "Body cut at about 48 characters." in html
