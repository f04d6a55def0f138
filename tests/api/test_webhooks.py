"""Users' own webhook endpoints through the API: behind WEBHOOKS_USER_API, owner-scoped, 400 on bad
URLs, the secret only in the answers that create or rotate it."""

from __future__ import annotations

import ipaddress

import pytest

from django_push.devices import webhooks
from django_push.models import Device, WebhookEndpoint

from .conftest import API

URL = f"{API}webhooks/"
PUBLIC = "93.184.215.14"


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@pytest.fixture(autouse=True)
def _setup(monkeypatch, push_conf):
    real = webhooks.resolve_sync
    monkeypatch.setattr(
        webhooks, "resolve_sync", lambda host, port: real(host, port) if _is_ip(host) else [PUBLIC]
    )
    push_conf(WEBHOOKS_USER_API=True)


def test_off_by_default(api, push_conf):
    push_conf(WEBHOOKS_USER_API=False)
    assert api.get(URL).status_code == 404
    assert api.post(URL, {"url": "https://hooks.example.com/in"}, format="json").status_code == 404


def test_anonymous_is_refused(anon):
    assert anon.get(URL).status_code in (401, 403)


def test_create_returns_the_secret_once(api, user):
    response = api.post(URL, {"url": "https://hooks.example.com/in", "event_types": ["a.b"]}, format="json")
    assert response.status_code == 201, response.content
    endpoint = WebhookEndpoint.objects.get()
    assert response.json()["secret"] == endpoint.secret and endpoint.owner == user
    assert endpoint.event_types == ["a.b"] and endpoint.device.owner == user
    listed = api.get(URL).json()
    assert [e["id"] for e in listed] == [str(endpoint.public_id)]
    assert endpoint.secret not in api.get(URL).content.decode()
    assert endpoint.secret not in api.get(f"{URL}{endpoint.public_id}/").content.decode()


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/in",
        "https://10.0.0.1/in",
        "https://169.254.169.254/latest",
        "https://[::1]/",
        "x",
    ],
)
def test_bad_urls_are_400_under_url(api, url):
    response = api.post(URL, {"url": url}, format="json")
    assert response.status_code == 400 and "url" in response.json()
    assert not Device.objects.exists()


def test_duplicate_url_is_400(api):
    api.post(URL, {"url": "https://hooks.example.com/in"}, format="json")
    response = api.post(URL, {"url": "https://hooks.example.com/in"}, format="json")
    assert response.status_code == 400 and "url" in response.json()


def test_other_users_endpoints_are_404(api, other_api):
    created = api.post(URL, {"url": "https://hooks.example.com/in"}, format="json").json()
    detail = f"{URL}{created['id']}/"
    assert other_api.get(detail).status_code == 404
    assert other_api.delete(detail).status_code == 404
    assert other_api.post(f"{detail}rotate-secret/").status_code == 404
    assert other_api.get(URL).json() == []
    assert WebhookEndpoint.objects.count() == 1


def test_patch_rotate_delete(api):
    created = api.post(URL, {"url": "https://hooks.example.com/in"}, format="json").json()
    detail = f"{URL}{created['id']}/"
    bad = api.patch(detail, {"url": "https://192.168.1.1/x"}, format="json")
    assert bad.status_code == 400 and "url" in bad.json()
    patched = api.patch(detail, {"active": False, "description": "ERP"}, format="json")
    assert patched.status_code == 200 and patched.json()["active"] is False
    endpoint = WebhookEndpoint.objects.get()
    assert not endpoint.device.active
    rotated = api.post(f"{detail}rotate-secret/").json()
    endpoint.refresh_from_db()
    assert rotated["secret"] == endpoint.secret != created["secret"]
    assert endpoint.signing_secrets() == (endpoint.secret, created["secret"])
    assert api.delete(detail).status_code == 204
    assert not WebhookEndpoint.objects.exists() and not Device.objects.exists()
