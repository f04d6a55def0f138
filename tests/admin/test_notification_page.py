"""The notification page beyond its progress bar: live fragments, "held until …", the Retry failed /
Cancel / Duplicate as draft buttons, the funnel, the compact list cell and the named 403."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from django_push import dispatch, testing
from django_push.dispatch import engagement
from django_push.message import PushMessage
from django_push.models import Delivery, Notification
from django_push.results import DeliveryStatus, SendResult

from ..factories import DeviceFactory, WebPushDeviceFactory
from .conftest import staff_with

pytestmark = pytest.mark.django_db


def url(name, n):
    return reverse(f"admin:django_push_notification_{name}", args=[n.pk])


@pytest.fixture
def failed_one():
    ok, bad = DeviceFactory(), WebPushDeviceFactory()
    testing.script_outcome(bad.address, SendResult(DeliveryStatus.FAILED, error_code="Oops", reason="boom"))
    n = dispatch.send_message(PushMessage(title="Mixed", body="bag"), [ok, bad])
    return n, ok, bad


def test_held_deliveries_say_until_when(admin_client):
    device = DeviceFactory()
    until = timezone.now() + timedelta(hours=3)
    n = Notification.objects.create(title="quiet", status="sending", targeted=1, planned_at=timezone.now())
    Delivery.objects.create(
        notification=n, device=device, platform="apns", next_attempt_at=until, reason="quiet hours"
    )
    data = admin_client.get(url("progress", n)).json()
    assert data["held"]["count"] == 1 and data["held"]["reason"] == "quiet hours"
    assert data["progress_text"].startswith("held until ")  # not "0%"
    assert "1 delivery held until" in data["held_text"] and "(quiet hours)" in data["held_text"]
    html = admin_client.get(url("change", n)).content.decode()
    assert "held until" in html and 'class="dp-progress-text">0%<' not in html


def test_retry_button_resends_failed_deliveries(admin_client, failed_one, django_capture_on_commit_callbacks):
    n, _ok, bad = failed_one
    page = admin_client.get(url("change", n)).content.decode()
    assert 'data-push-button="retry"' in page and 'data-push-button="duplicate"' in page
    testing.script_outcome(bad.address, SendResult.sent("again"))
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url("retry", n), follow=True)
    assert "Retrying 1 delivery." in [str(m) for m in response.context["messages"]]
    n.refresh_from_db()
    assert (n.status, n.sent, n.failed) == ("done", 2, 0)


def test_cancel_button_and_a_finished_notification(admin_client, failed_one):
    scheduled = dispatch.create(
        audience={"all": True}, title="later", scheduled_at=timezone.now() + timedelta(days=1)
    )
    admin_client.post(url("cancel", scheduled))
    scheduled.refresh_from_db()
    assert scheduled.status == "cancelled"
    n = failed_one[0]
    response = admin_client.post(url("cancel", n), follow=True)
    assert "It had already finished and was left alone." in [str(m) for m in response.context["messages"]]
    n.refresh_from_db()
    assert n.status == "done"


def test_duplicate_as_draft_prefills_the_composer(admin_client, failed_one):
    n = failed_one[0]
    response = admin_client.post(url("duplicate", n))
    draft = Notification.objects.exclude(pk=n.pk).get()
    assert (draft.status, draft.title, draft.body, draft.audience) == ("draft", "Mixed", "bag", n.audience)
    assert (draft.sent, draft.targeted) == (0, 0)
    assert response["Location"].endswith(f"?draft={draft.pk}")
    form = admin_client.get(response["Location"]).context["form"]
    assert form.initial["title"] == "Mixed" and form.initial["audience_json"] == n.audience


def test_buttons_are_post_only_csrf_checked_and_need_the_permission(client, failed_one):
    n = failed_one[0]
    viewer = staff_with("view_notification")
    client.force_login(viewer)
    assert 'data-push-button="retry"' not in client.get(url("change", n)).content.decode()
    refused = client.post(url("retry", n))
    assert refused.status_code == 403
    assert "Can compose and send broadcasts" in refused.content.decode()
    assert "django_push.send_broadcast" in refused.content.decode()
    n.refresh_from_db()
    assert n.failed == 1

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(staff_with("view_notification", "send_broadcast"))
    assert strict.get(url("retry", n)).status_code == 405
    assert strict.post(url("cancel", n)).status_code == 403  # no CSRF token
    n.refresh_from_db()
    assert n.status == "done"


def test_compose_403_names_the_missing_permission(client):
    client.force_login(staff_with("view_notification"))
    response = client.get(reverse("admin:django_push_notification_compose"))
    assert response.status_code == 403
    assert "You need the permission “Can compose and send broadcasts”" in response.content.decode()


def test_funnel_by_platform_and_open_rate_column(admin_client, failed_one):
    n, ok, _bad = failed_one
    reference = engagement.sign(n.public_id, ok.public_id)
    engagement.record(reference, "clicked")
    funnel = {row["platform"]: row for row in admin_client.get(url("change", n)).context["push_funnel"]}
    assert (funnel["apns"]["targeted"], funnel["apns"]["sent"], funnel["apns"]["opened"]) == (1, 1, 1)
    assert (funnel["webpush"]["sent"], funnel["webpush"]["opened"], funnel["webpush"]["open_rate"]) == (
        0,
        0,
        None,
    )
    assert 'data-stage="clicked" data-count="1"' in str(funnel["apns"]["svg"])
    assert "clicked 1" in str(funnel["apns"]["svg"])  # the SVG's text alternative
    listing = admin_client.get(reverse("admin:django_push_notification_changelist")).content.decode()
    assert "100.0%" in listing  # 1 opened of 1 sent
    assert 'class="dp-cell-counters"' in listing and 'aria-label="1 failed"' in listing


def test_a_new_platform_value_gets_its_own_rows(admin_client):
    """Channels added as Platform values appear without a change to the page (not a fixed list)."""
    device = DeviceFactory()
    n = Notification.objects.create(title="sms", status="done", targeted=1, sent=1)
    Delivery.objects.create(notification=n, device=device, platform="sms", status="sent")
    context = admin_client.get(url("change", n)).context
    assert [row["platform"] for row in context["push_funnel"]] == ["sms"]
    assert [row["platform"] for row in context["push_chart"]] == ["sms"]
