"""Topic and subscription admin: subscriber counts come from annotations; devices stay masked."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from django_push.models import Subscription

from ..factories import DeviceFactory, TopicFactory

pytestmark = pytest.mark.django_db


def test_topic_list_counts_subscribers(admin_client):
    news, sport = TopicFactory(name="news"), TopicFactory(name="sport")
    TopicFactory(name="empty")
    for device in DeviceFactory.create_batch(3):
        Subscription.objects.create(device=device, topic=news)
    Subscription.objects.create(device=DeviceFactory(active=False), topic=news)
    Subscription.objects.create(device=DeviceFactory(), topic=sport)

    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(reverse("admin:django_push_topic_changelist"), {"o": "-4"})
    assert response.status_code == 200
    rows = [(t.name, t.subscriber_total, t.subscriber_active) for t in response.context["cl"].result_list]
    assert rows == [("news", 4, 3), ("sport", 1, 1), ("empty", 0, 0)]  # ordered by subscribers, descending
    html = response.content.decode()
    assert '<td class="field-subscriber_count">4</td>' in html
    assert '<td class="field-active_subscriber_count">3</td>' in html
    assert len(queries) < 12  # one annotated query for the rows, not one per topic


def test_subscription_list_masks_devices(admin_client):
    topic = TopicFactory(name="news")
    device = DeviceFactory()
    Subscription.objects.create(device=device, topic=topic)
    response = admin_client.get(reverse("admin:django_push_subscription_changelist"))
    assert response.status_code == 200
    html = response.content.decode()
    assert device.masked_address in html and device.address not in html
    assert "news" in html and str(device.owner) in html
    found = admin_client.get(
        reverse("admin:django_push_subscription_changelist"), {"q": device.owner.username}
    )
    assert len(found.context["cl"].result_list) == 1
    assert (
        not admin_client.get(reverse("admin:django_push_subscription_changelist"), {"q": device.address})
        .context["cl"]
        .result_list
    )
