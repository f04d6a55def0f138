"""POST /api/push/engagement/: no login, signed references, clear refusals, throttled."""

import pytest

from django_push import dispatch, testing
from django_push.message import PushMessage
from django_push.models import Delivery

from ..factories import DeviceFactory
from .conftest import API

pytestmark = pytest.mark.django_db(transaction=True)
URL = API + "engagement/"


@pytest.fixture
def sent():
    device = DeviceFactory()
    n = dispatch.send_message(PushMessage(title="Hi"), [device])
    return n, testing.outbox[0].message.data["dp_ref"]


def test_anonymous_report_is_recorded_once(client, sent):
    n, ref = sent
    first = client.post(URL, {"reference": ref, "event": "clicked"}, content_type="application/json")
    assert first.status_code == 200, first.content
    assert first.json() == {"recorded": ["displayed", "opened", "clicked"]}
    again = client.post(URL, {"reference": ref, "event": "clicked"}, content_type="application/json")
    assert again.status_code == 200 and again.json() == {"recorded": []}
    n.refresh_from_db()
    assert (n.opened, n.clicked) == (1, 1)
    assert Delivery.objects.get(notification=n).clicked_at is not None


def test_session_without_csrf_token_is_not_needed(sent):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    _, ref = sent
    response = client.post(URL, {"reference": ref, "event": "opened"}, content_type="application/json")
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [({"event": "opened"}, "reference"), ({"reference": "x", "event": "liked"}, "event"), ({}, "event")],
)
def test_malformed_reports_are_400_with_field_errors(client, body, field):
    response = client.post(URL, body, content_type="application/json")
    assert response.status_code == 400
    assert field in response.json()


def test_forged_reference_is_403_with_a_reason(client, sent):
    _, ref = sent
    response = client.post(URL, {"reference": ref + "x", "event": "opened"}, content_type="application/json")
    assert response.status_code == 403
    assert "not genuine" in response.json()["detail"]


def test_reports_are_throttled(client, settings, sent):
    settings.DJANGO_PUSH = {**settings.DJANGO_PUSH, "ENGAGEMENT_THROTTLE_RATE": "2/min"}
    _, ref = sent
    codes = [
        client.post(URL, {"reference": ref, "event": "opened"}, content_type="application/json").status_code
        for _ in range(3)
    ]
    assert codes == [200, 200, 429]
