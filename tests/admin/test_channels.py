"""The notification page with channels: progress per channel, and the escalations that fired or wait."""

from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse

from django_push import dispatch, testing
from django_push.dispatch import steps
from django_push.models import ScheduledStep
from django_push.results import DeliveryStatus

from ..factories import DeviceFactory, UserFactory
from .conftest import staff_with

pytestmark = pytest.mark.django_db


def change_url(n):
    return reverse("admin:django_push_notification_change", args=[n.pk])


def test_the_page_shows_escalations_and_the_follow_up_shows_its_origin(
    client, django_capture_on_commit_callbacks
):
    client.force_login(staff_with("view_notification", "view_delivery", "view_scheduledstep"))
    missed, landed = UserFactory(), UserFactory()
    testing.script_outcome(DeviceFactory(owner=missed).address, DeliveryStatus.FAILED)
    DeviceFactory(owner=landed)
    parent = dispatch.create(audience={"users": [missed.pk, landed.pk]}, title="Pay", body="now")
    dispatch.plan(parent.pk, inline=True)
    steps.schedule_escalation(parent, "email", timedelta(minutes=5), "delivered")

    pending = client.get(change_url(parent)).content.decode()
    assert 'id="push-steps"' in pending and 'data-step-status="pending"' in pending

    with django_capture_on_commit_callbacks(execute=True):
        assert steps.run_due(dispatch_now() + timedelta(minutes=5)) == 1
    assert [m.to for m in mail.outbox] == [[missed.email]]
    step = ScheduledStep.objects.get()
    fired = client.get(change_url(parent)).content.decode()
    assert 'data-step-status="fired"' in fired and f"/{step.result_id}/change/" in fired

    follow_up = client.get(change_url(step.result)).content.decode()
    assert "data-step-origin" in follow_up
    assert 'data-platform="email"' in follow_up  # the outcome chart groups by channel

    steps_page = client.get(reverse("admin:django_push_scheduledstep_changelist"))
    assert steps_page.status_code == 200 and "escalation" in steps_page.content.decode()


def dispatch_now():
    from django.utils import timezone

    return timezone.now()
