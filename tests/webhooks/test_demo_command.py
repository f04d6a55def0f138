"""The example project's ``demowebhook``: one delivery, both signatures verified by standardwebhooks."""

from __future__ import annotations

import io

import pytest

from django_push.models import Device, WebhookEndpoint
from example_project.demo.management.commands.demowebhook import Command

pytestmark = pytest.mark.django_db(transaction=True)


def test_demowebhook_shows_a_verified_delivery_and_cleans_up():
    out = io.StringIO()
    Command(stdout=out).handle()
    text = out.getvalue()
    assert "delivery sent after 1 attempt(s)" in text
    assert "standardwebhooks with the old secret: verified" in text
    assert "standardwebhooks with the new secret: verified" in text
    assert text.count(" v1,") == 2  # webhook-signature: one per valid secret
    assert not WebhookEndpoint.objects.exists() and not Device.objects.exists()
