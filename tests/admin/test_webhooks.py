"""Webhook endpoint admin: the secret shown once, masked after; URL rules as form errors; actions."""

from __future__ import annotations

import ipaddress

import pytest
from django.contrib.messages import get_messages
from django.utils import timezone

from django_push.devices import webhooks
from django_push.models import Device, WebhookEndpoint

pytestmark = pytest.mark.django_db

ADD = "/admin/django_push/webhookendpoint/add/"
LIST = "/admin/django_push/webhookendpoint/"
PUBLIC = "93.184.215.14"


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@pytest.fixture(autouse=True)
def _public_dns(monkeypatch):
    # The registration's DNS lookup, answered without the network: a public address.
    real = webhooks.resolve_sync
    monkeypatch.setattr(
        webhooks, "resolve_sync", lambda host, port: real(host, port) if _is_ip(host) else [PUBLIC]
    )


def form(**values):
    return {
        "url": "https://hooks.example.com/in",
        "description": "ERP",
        "event_types": "[]",
        "active": "on",
        **values,
    }


def test_add_shows_the_secret_once_then_masked(admin_client):
    response = admin_client.post(ADD, form(), follow=True)
    endpoint = WebhookEndpoint.objects.get()
    shown = [str(m) for m in get_messages(response.wsgi_request)] + [response.content.decode()]
    assert any(endpoint.secret in text for text in shown)
    assert endpoint.device.platform == "webhook" and endpoint.device.address == "https://hooks.example.com/in"
    page = admin_client.get(f"{LIST}{endpoint.pk}/change/").content.decode()
    listing = admin_client.get(LIST).content.decode()
    assert endpoint.secret not in page and endpoint.secret not in listing
    assert endpoint.masked_secret in page


@pytest.mark.parametrize(
    "url", ["http://hooks.example.com/in", "https://10.0.0.1/in", "https://127.0.0.1/in"]
)
def test_bad_urls_are_form_errors(admin_client, url):
    response = admin_client.post(ADD, form(url=url))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["url"]
    assert not WebhookEndpoint.objects.exists() and not Device.objects.exists()


def test_duplicate_url_is_a_form_error(admin_client):
    webhooks.create_endpoint(url="https://hooks.example.com/in")
    response = admin_client.post(ADD, form())
    assert response.status_code == 200 and "already registered" in str(
        response.context["adminform"].form.errors
    )


def test_rotate_action_keeps_the_old_secret_for_the_overlap(admin_client):
    endpoint, old = webhooks.create_endpoint(url="https://hooks.example.com/in")
    response = admin_client.post(
        LIST, {"action": "rotate_secret", "_selected_action": [endpoint.pk]}, follow=True
    )
    endpoint.refresh_from_db()
    assert endpoint.secret != old and endpoint.signing_secrets() == (endpoint.secret, old)
    assert any(endpoint.secret in str(m) for m in get_messages(response.wsgi_request))


def test_disabled_endpoints_are_announced_and_can_be_reenabled(admin_client):
    endpoint, _ = webhooks.create_endpoint(url="https://hooks.example.com/in")
    webhooks.disable(endpoint, "15 failed attempts in a row", timezone.now())
    response = admin_client.get(LIST)
    assert "15 failed attempts in a row" in " ".join(str(m) for m in get_messages(response.wsgi_request))
    admin_client.post(LIST, {"action": "reenable", "_selected_action": [endpoint.pk]})
    endpoint.refresh_from_db()
    assert endpoint.disabled_at is None and Device.objects.get(pk=endpoint.device_id).active


def test_switching_off_in_the_form_deactivates_the_device(admin_client):
    endpoint, _ = webhooks.create_endpoint(url="https://hooks.example.com/in")
    admin_client.post(f"{LIST}{endpoint.pk}/change/", form(active=""))
    endpoint.refresh_from_db()
    assert not endpoint.active and not Device.objects.get(pk=endpoint.device_id).active


def test_deleting_an_endpoint_deletes_its_device(admin_client):
    endpoint, _ = webhooks.create_endpoint(url="https://hooks.example.com/in")
    other, _ = webhooks.create_endpoint(url="https://hooks.example.com/other")
    admin_client.post(f"{LIST}{endpoint.pk}/delete/", {"post": "yes"})
    assert list(WebhookEndpoint.objects.all()) == [other]
    admin_client.post(LIST, {"action": "delete_selected", "_selected_action": [other.pk], "post": "yes"})
    assert not WebhookEndpoint.objects.exists() and not Device.objects.exists()
    webhooks.create_endpoint(url="https://hooks.example.com/in")  # the URL is free again
