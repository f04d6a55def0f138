"""The dashboard: 30 days by day and platform (sent, failed, invalid tokens, opens) and top failures."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from django_push.models import Delivery, Notification, stats

from ..factories import DeviceFactory, WebPushDeviceFactory
from .conftest import staff_with

pytestmark = pytest.mark.django_db
URL = "admin:django_push_notification_dashboard"


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def history():
    now = timezone.now()
    n = Notification.objects.create(title="h", status="done")
    rows = [
        (DeviceFactory(), "sent", "", now, now),
        (DeviceFactory(), "sent", "", now - timedelta(days=2), None),
        (DeviceFactory(), "failed", "Oops", now - timedelta(days=2), None),
        (DeviceFactory(), "invalid_token", "BadDeviceToken", now, None),
        (WebPushDeviceFactory(), "invalid_token", "410", now - timedelta(days=1), None),
        (WebPushDeviceFactory(), "sent", "", now - timedelta(days=40), now - timedelta(days=40)),  # too old
    ]
    for device, status, code, created, opened in rows:
        Delivery.objects.create(
            notification=n,
            device=device,
            platform=device.platform,
            status=status,
            error_code=code,
            reason=f"reason for {code}" if code else "",
            created_at=created,
            opened_at=opened,
        )
    return now


def test_dashboard_totals_per_platform_and_top_failures(admin_client, history):
    response = admin_client.get(reverse(URL))
    assert response.status_code == 200
    charts = {c["platform"]: c for c in response.context["charts"]}
    assert charts["apns"]["totals"] == {"sent": 2, "failed": 1, "invalid": 1, "opened": 1}
    assert charts["webpush"]["totals"] == {"sent": 0, "failed": 0, "invalid": 1, "opened": 0}  # 40 days: out
    assert response.context["total"]["totals"]["invalid"] == 2
    failures = {row["error_code"]: row for row in response.context["failures"]}
    assert {code: row["n"] for code, row in failures.items()} == {"Oops": 1, "BadDeviceToken": 1, "410": 1}
    assert failures["Oops"]["reason"] == "reason for Oops"
    html = response.content.decode()
    assert "2 sent, 1 failed, 1 invalid tokens, 1 opened" in html  # the APNs chart's text alternative
    assert html.count('class="dp-dash-chart"') == 3  # all platforms, APNs, Web Push
    assert 'src="http' not in html  # no script or image from elsewhere


def test_daily_rows_land_on_their_day(history):
    since = history - timedelta(days=29)
    rows = stats.daily_outcomes(since)
    by_day = {(r["day"], r["status"]): r["n"] for r in rows if r["platform"] == "apns"}
    two_days_ago = timezone.localdate(history - timedelta(days=2))
    assert by_day[(two_days_ago, "failed")] == 1 and by_day[(two_days_ago, "sent")] == 1
    assert stats.daily_opens(since) == [{"day": timezone.localdate(history), "platform": "apns", "n": 1}]
    assert len(stats.days(two_days_ago, timezone.localdate(history))) == 3


def test_dashboard_needs_view_permission(client, history):
    client.force_login(staff_with("view_device"))
    response = client.get(reverse(URL))
    assert response.status_code == 403 and "Can view notification" in response.content.decode()


def test_dashboard_linked_from_the_list(admin_client):
    html = admin_client.get(reverse("admin:django_push_notification_changelist")).content.decode()
    assert f'href="{reverse(URL)}"' in html


def test_settled_days_come_from_the_rollup_and_today_is_live(history):
    today = timezone.localdate(history)
    first = today - timedelta(days=29)
    rows, cached = stats.settled(stats.daily_outcomes, first, today)
    assert not cached and sum(r["n"] for r in rows) == 5
    n = Notification.objects.first()
    old = timezone.now() - timedelta(days=3)
    for created in (old, timezone.now()):
        Delivery.objects.create(
            notification=n, device=DeviceFactory(), platform="apns", status="sent", created_at=created
        )
    rows, cached = stats.settled(stats.daily_outcomes, first, today)
    assert cached
    # Today's new delivery shows at once; the one back-dated into a settled day waits for the rollup.
    assert sum(r["n"] for r in rows) == 6
    cache.clear()
    assert sum(r["n"] for r in stats.settled(stats.daily_outcomes, first, today)[0]) == 7
