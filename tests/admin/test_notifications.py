"""Notification admin: list, detail page (progress, chart, delivery log), progress JSON, retry, cancel;
and the read-only Delivery admin."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from django_push import dispatch, testing
from django_push.admin import views
from django_push.message import PushMessage
from django_push.models import Delivery, Notification
from django_push.results import DeliveryStatus, SendResult

from ..factories import DeviceFactory, WebPushDeviceFactory
from .conftest import staff_with

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:django_push_notification_changelist"


def change_url(n):
    return reverse("admin:django_push_notification_change", args=[n.pk])


def progress_url(n):
    return reverse("admin:django_push_notification_progress", args=[n.pk])


@pytest.fixture
def mixed():
    """A finished notification: 2 APNs sent, 1 APNs failed (BadDeviceToken), 1 Web Push invalid."""
    ok = DeviceFactory.create_batch(2)
    bad = DeviceFactory()
    gone = WebPushDeviceFactory()
    testing.script_outcome(bad.address, SendResult(DeliveryStatus.FAILED, error_code="Oops", reason="boom"))
    testing.script_outcome(gone.address, SendResult(DeliveryStatus.INVALID_TOKEN, error_code="Gone"))
    n = dispatch.send_message(PushMessage(title="Mixed", body="bag"), [*ok, bad, gone])
    assert (n.status, n.sent, n.failed, n.invalid) == ("done", 2, 1, 1)
    return n, ok, bad, gone


def test_changelist_columns(admin_client, mixed):
    n = mixed[0]
    response = admin_client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Mixed" in html and "4 devices" in html  # audience summary of a send_message
    assert 'aria-valuenow="100"' in html and "100%" in html
    assert "django_push/admin/admin.css" in html
    assert change_url(n) in html
    # Records are not added through the admin.
    assert reverse("admin:django_push_notification_add") not in html
    assert admin_client.get(reverse("admin:django_push_notification_add")).status_code == 403


def test_detail_page_has_progress_chart_and_log_without_tokens(admin_client, mixed):
    n, ok, bad, gone = mixed
    response = admin_client.get(change_url(n))
    assert response.status_code == 200
    html = response.content.decode()
    assert f'data-url="{progress_url(n)}"' in html and 'data-final="true"' in html
    assert "django_push/admin/progress.js" in html
    chart = {row["platform"]: row for row in response.context["push_chart"]}
    assert chart["apns"]["total"] == 3 and chart["webpush"]["total"] == 1
    assert [(s["status"], s["count"]) for s in chart["apns"]["segments"]] == [("sent", 2), ("failed", 1)]
    assert [(s["status"], s["count"]) for s in chart["webpush"]["segments"]] == [("invalid_token", 1)]
    assert 'data-status="sent" data-count="2"' in html
    assert "Delivery log" in html
    for device in (*ok, bad, gone):
        assert device.masked_address in html
        assert device.address not in html
    assert gone.p256dh not in html and gone.auth not in html
    # View only: no save button.
    assert 'name="_save"' not in html


def test_delivery_log_filters_and_pages(admin_client, mixed, monkeypatch):
    n, ok, bad, gone = mixed
    log = admin_client.get(change_url(n), {"status": "failed"}).context["push_log"]
    assert [r["device_id"] for r in log["rows"]] == [bad.pk]
    assert log["rows"][0]["delivery"].reason == "boom"
    log = admin_client.get(change_url(n), {"error_code": "Gone"}).context["push_log"]
    assert [r["device_id"] for r in log["rows"]] == [gone.pk]
    codes = [link["value"] for link in log["code_links"][1:]]
    assert sorted(codes) == ["Gone", "Oops"]

    monkeypatch.setattr(views, "LOG_PAGE_SIZE", 3)
    first = admin_client.get(change_url(n)).context["push_log"]
    assert len(first["rows"]) == 3 and first["next_url"] and not first["previous_url"]
    second = admin_client.get(change_url(n) + first["next_url"].split("#")[0]).context["push_log"]
    assert len(second["rows"]) == 1 and second["previous_url"]
    assert {r["device_id"] for r in first["rows"] + second["rows"]} == {d.pk for d in (*ok, bad, gone)}


def test_progress_endpoint(admin_client, mixed):
    n = mixed[0]
    response = admin_client.get(progress_url(n))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    data = response.json()
    fragments = data.pop("fragments")
    # The live parts, rendered as the page renders them: the chart, the funnel and the log move too.
    assert 'data-status="sent" data-count="2"' in fragments["outcomes"]
    assert 'data-platform="apns"' in fragments["funnel"] and "delivery-log-table" in fragments["log"]
    assert data == {
        "id": n.pk,
        "status": "done",
        "status_display": "done",
        "progress": 100,
        "targeted": 4,
        "sent": 2,
        "failed": 1,
        "invalid": 1,
        "skipped": 0,
        "unknown": 0,
        "pending": 0,
        "displayed": 0,
        "opened": 0,
        "clicked": 0,
        "open_rate": "0.0%",
        "held": None,
        "held_text": "",
        "progress_text": "100%",
        "final": True,
    }
    assert (
        admin_client.get(reverse("admin:django_push_notification_progress", args=[999999])).status_code == 404
    )


def test_progress_endpoint_of_a_queued_notification(admin_client):
    n = dispatch.create(audience={"all": True}, title="later")  # stored, not yet sent
    data = admin_client.get(progress_url(n)).json()
    assert (data["status"], data["progress"], data["final"]) == ("queued", 0, False)
    html = admin_client.get(change_url(n)).content.decode()
    assert 'data-final="false"' in html and "No deliveries yet." in html


def test_progress_endpoint_needs_view_permission(client, mixed):
    n = mixed[0]
    client.force_login(staff_with("view_device"))
    assert client.get(progress_url(n)).status_code == 403
    client.force_login(staff_with("view_notification"))
    assert client.get(progress_url(n)).status_code == 200


def test_retry_failed_deliveries_keeps_counters_consistent(
    admin_client, mixed, django_capture_on_commit_callbacks
):
    n, _ok, bad, gone = mixed
    testing.outbox.clear()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = admin_client.post(
            reverse(CHANGELIST), {"action": "retry_failed", "_selected_action": [n.pk]}
        )
    # Reset, not yet sent: back to sending, failed decremented, the row pending again.
    n.refresh_from_db()
    assert (n.status, n.failed, n.sent, n.finished_at) == ("sending", 0, 2, None)
    assert n.pending == 1 and n.progress == 75
    d = Delivery.objects.get(notification=n, device=bad)
    assert (d.status, d.error_code, d.reason, d.attempts) == ("pending", "", "", 0)
    assert Delivery.objects.get(notification=n, device=gone).status == "invalid_token"  # not retried
    assert testing.outbox == [] and len(callbacks) == 1
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["Retrying 1 delivery of 1 notification."]

    callbacks[0]()  # the commit: the chunk goes through jobs.enqueue → process_chunk
    n.refresh_from_db()
    assert (n.status, n.sent, n.failed, n.invalid, n.pending) == ("done", 3, 0, 1, 0)
    assert [e.target.address for e in testing.outbox] == [bad.address]
    assert Delivery.objects.get(notification=n, device=bad).status == "sent"


def test_retry_again_failing_counts_once(admin_client, mixed, django_capture_on_commit_callbacks):
    n, _, bad, _ = mixed
    testing.script_outcome(bad.address, "failed")
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse(CHANGELIST), {"action": "retry_failed", "_selected_action": [n.pk]})
    n.refresh_from_db()
    assert (n.status, n.sent, n.failed, n.invalid, n.pending) == ("done", 2, 1, 1, 0)


def test_retry_resets_unavailable_deliveries_without_touching_failed(
    admin_client, settings, django_capture_on_commit_callbacks
):
    # A retry too far off to wait for in-process is left to the send_due sweep: the row stays
    # UNAVAILABLE (open, not counted as failed) and the notification sending.
    settings.DJANGO_PUSH = {
        **settings.DJANGO_PUSH,
        "EAGER_RETRY_MAX_WAIT": 0,
        "RETRY_BACKOFF_BASE": 60,
        "RETRY_BACKOFF_MAX": 60,
    }
    device = DeviceFactory()
    testing.script_outcome(device.address, "unavailable")
    n = dispatch.send_message(PushMessage(title="x"), [device])
    assert (n.status, n.failed, n.pending) == ("sending", 0, 1)
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse(CHANGELIST), {"action": "retry_failed", "_selected_action": [n.pk]})
    n.refresh_from_db()
    assert (n.status, n.sent, n.failed, n.pending) == ("done", 1, 0, 0)
    assert len(testing.outbox) == 2


def test_retry_with_nothing_to_retry(admin_client):
    n = dispatch.send_message(PushMessage(title="fine"), DeviceFactory.create_batch(2))
    response = admin_client.post(
        reverse(CHANGELIST), {"action": "retry_failed", "_selected_action": [n.pk]}, follow=True
    )
    assert "No failed deliveries to retry." in [str(m) for m in response.context["messages"]]
    n.refresh_from_db()
    assert n.status == "done"


def test_actions_need_send_broadcast(client, mixed):
    n = mixed[0]
    client.force_login(staff_with("view_notification"))
    response = client.get(reverse(CHANGELIST))
    assert 'value="retry_failed"' not in response.content.decode()
    client.post(reverse(CHANGELIST), {"action": "retry_failed", "_selected_action": [n.pk]})
    n.refresh_from_db()
    assert (n.status, n.failed) == ("done", 1)

    scheduled = dispatch.create(audience={"all": True}, title="s", scheduled_at=_later())
    client.post(reverse(CHANGELIST), {"action": "cancel", "_selected_action": [scheduled.pk]})
    scheduled.refresh_from_db()
    assert scheduled.status == "scheduled"


def test_cancel_leaves_finished_notifications_alone(admin_client, mixed):
    done = mixed[0]
    scheduled = dispatch.create(audience={"all": True}, title="s", scheduled_at=_later())
    response = admin_client.post(
        reverse(CHANGELIST), {"action": "cancel", "_selected_action": [done.pk, scheduled.pk]}, follow=True
    )
    texts = [str(m) for m in response.context["messages"]]
    assert texts == ["Cancelled 1 notification.", "1 notification had already finished and was left alone."]
    done.refresh_from_db()
    scheduled.refresh_from_db()
    assert (done.status, scheduled.status) == ("done", "cancelled")


def test_delivery_admin_is_read_only_and_masked(admin_client, mixed):
    n, _ok, bad, gone = mixed
    response = admin_client.get(reverse("admin:django_push_delivery_changelist"))
    assert response.status_code == 200
    html = response.content.decode()
    assert gone.masked_address in html and gone.address not in html
    assert 'value="delete_selected"' not in html
    d = Delivery.objects.get(notification=n, device=bad)
    detail = admin_client.get(reverse("admin:django_push_delivery_change", args=[d.pk]))
    assert detail.status_code == 200
    assert bad.masked_address in detail.content.decode() and bad.address not in detail.content.decode()
    assert 'name="_save"' not in detail.content.decode()
    filtered = admin_client.get(reverse("admin:django_push_delivery_changelist"), {"status__exact": "failed"})
    assert list(filtered.context["cl"].result_list) == [d]


def _later():
    from datetime import timedelta

    from django.utils import timezone

    return timezone.now() + timedelta(hours=1)


def test_notification_admin_has_no_add_or_change(admin_client, mixed):
    n = mixed[0]
    before = Notification.objects.get(pk=n.pk).title
    admin_client.post(change_url(n), {"title": "changed"})
    assert Notification.objects.get(pk=n.pk).title == before
