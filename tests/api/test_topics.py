"""topics/ and devices/{id}/topics/: joining and leaving self-subscribable topics."""

from __future__ import annotations

import pytest

from django_push.models import Subscription

from ..factories import DeviceFactory, TopicFactory
from .conftest import API

pytestmark = pytest.mark.django_db


def topics_url(device) -> str:
    return f"{API}devices/{device.public_id}/topics/"


def test_topic_list_shows_only_self_subscribable_topics(api):
    TopicFactory(name="sports", description="Scores")
    TopicFactory(name="news", description="Breaking news")
    TopicFactory(name="billing", self_subscribe=False)
    body = api.get(f"{API}topics/").json()
    assert body["results"] == [
        {"name": "news", "description": "Breaking news"},
        {"name": "sports", "description": "Scores"},
    ]


def test_subscribe_is_idempotent_201_then_200(api, user):
    device = DeviceFactory(owner=user)
    TopicFactory(name="news", description="Breaking news")
    first = api.post(topics_url(device), {"topic": "news"}, format="json")
    assert first.status_code == 201
    assert first.json()["topic"] == "news"
    assert first.json()["description"] == "Breaking news"
    assert first.json()["self_subscribe"] is True
    assert api.post(topics_url(device), {"topic": "news"}, format="json").status_code == 200
    assert Subscription.objects.filter(device=device).count() == 1


def test_list_device_topics(api, user):
    device = DeviceFactory(owner=user)
    for name in ("b-topic", "a-topic"):
        Subscription.objects.create(device=device, topic=TopicFactory(name=name))
    Subscription.objects.create(device=DeviceFactory(owner=user), topic=TopicFactory(name="c-topic"))
    body = api.get(topics_url(device)).json()
    assert [s["topic"] for s in body["results"]] == ["a-topic", "b-topic"]


def test_unknown_topic_is_a_field_error(api, user):
    device = DeviceFactory(owner=user)
    response = api.post(topics_url(device), {"topic": "nope"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"topic": ["Unknown topic 'nope'."]}
    response = api.post(topics_url(device), {}, format="json")
    assert response.json() == {"topic": ["This field is required."]}


def test_site_managed_topic_cannot_be_joined_or_left(api, user):
    device = DeviceFactory(owner=user)
    vip = TopicFactory(name="vip", self_subscribe=False)
    response = api.post(topics_url(device), {"topic": "vip"}, format="json")
    assert response.status_code == 403
    assert response.json() == {
        "detail": "Topic 'vip' is managed by the site; a device cannot join or leave it."
    }
    assert not Subscription.objects.exists()
    Subscription.objects.create(device=device, topic=vip)
    assert api.delete(f"{topics_url(device)}vip/").status_code == 403
    assert Subscription.objects.filter(device=device, topic=vip).exists()


def test_unsubscribe_is_idempotent(api, user):
    device = DeviceFactory(owner=user)
    news = TopicFactory(name="news")
    Subscription.objects.create(device=device, topic=news)
    assert api.delete(f"{topics_url(device)}news/").status_code == 204
    assert not Subscription.objects.exists()
    assert api.delete(f"{topics_url(device)}news/").status_code == 204
    assert api.delete(f"{topics_url(device)}unknown/").status_code == 404


def test_another_users_device_topics_are_404(other_api, user):
    device = DeviceFactory(owner=user)
    news = TopicFactory(name="news")
    Subscription.objects.create(device=device, topic=news)
    assert other_api.get(topics_url(device)).status_code == 404
    assert other_api.post(topics_url(device), {"topic": "news"}, format="json").status_code == 404
    assert other_api.delete(f"{topics_url(device)}news/").status_code == 404
    assert Subscription.objects.filter(device=device, topic=news).exists()


def test_topics_need_authentication(anon, user):
    device = DeviceFactory(owner=user)
    TopicFactory(name="news")
    assert anon.get(f"{API}topics/").status_code in (401, 403)
    assert anon.post(topics_url(device), {"topic": "news"}, format="json").status_code in (401, 403)
    assert not Subscription.objects.exists()
