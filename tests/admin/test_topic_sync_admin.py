"""The FCM topic-sync ledger in the admin: masked tokens, read-only rows, retry."""

from __future__ import annotations

import pytest
from django.urls import reverse

from django_push.models import FCMTopicChange, address_hash

pytestmark = pytest.mark.django_db
CHANGELIST = "admin:django_push_fcmtopicchange_changelist"
TOKEN = "fcm-secret-token-abcdef-0123456789"


def failed_change() -> FCMTopicChange:
    return FCMTopicChange.objects.create(
        topic="news",
        address=TOKEN,
        address_hash=address_hash(TOKEN),
        action="add",
        status="failed",
        attempts=8,
        error_code="INVALID_ARGUMENT",
    )


def test_list_shows_the_reason_and_never_the_whole_token(admin_client):
    failed_change()
    response = admin_client.get(reverse(CHANGELIST))
    html = response.content.decode()
    assert response.status_code == 200 and "INVALID_ARGUMENT" in html
    assert TOKEN not in html and "fcm-se…6789" in html


def test_rows_cannot_be_added_or_edited(admin_client):
    change = failed_change()
    assert admin_client.get(reverse("admin:django_push_fcmtopicchange_add")).status_code == 403
    page = admin_client.get(reverse("admin:django_push_fcmtopicchange_change", args=[change.pk]))
    assert page.status_code == 200 and TOKEN not in page.content.decode()
    admin_client.post(reverse("admin:django_push_fcmtopicchange_change", args=[change.pk]), {"topic": "x"})
    assert FCMTopicChange.objects.get().topic == "news"


def test_retry_action_makes_failed_changes_pending_again(admin_client):
    change = failed_change()
    response = admin_client.post(
        reverse(CHANGELIST), {"action": "retry_now", "_selected_action": [change.pk]}, follow=True
    )
    assert "1 change queued for FCM again." in response.content.decode()
    change.refresh_from_db()
    assert (change.status, change.attempts, change.version) == ("pending", 0, 1)
