"""The browser half's server side: the service worker view and the template tags."""

import pytest

pytest.importorskip("rest_framework")  # the "api" extra: the helper posts to the API (tests/conftest.py)
from django.template import engines

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.e2e.webpush_urls")]


def test_service_worker_served_with_root_scope(client):
    response = client.get("/push-sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert response["Service-Worker-Allowed"] == "/"
    assert "no-cache" in response["Cache-Control"]
    assert b'addEventListener("push"' in response.content and b"notificationclick" in response.content


def test_push_scripts_tag_configures_the_helper_and_sets_csrf(rf):
    request = rf.get("/")
    html = engines["django"].from_string("{% load django_push %}{% push_scripts %}").render({}, request)
    assert 'src="/static/django_push/push.js"' in html
    assert 'data-subscribe-url="/api/push/webpush/subscribe/"' in html
    assert 'data-vapid-key-url="/api/push/webpush/vapid-public-key/"' in html
    assert 'data-service-worker="/push-sw.js?vapid=' in html and "resubscribe" in html
    from django.middleware.csrf import _does_token_match

    assert request.META.get("CSRF_COOKIE_NEEDS_UPDATE")  # the middleware will set the cookie
    rendered = html.split('data-csrf-token="')[1].split('"')[0]
    assert _does_token_match(rendered, request.META["CSRF_COOKIE"])  # a masked form of the cookie


def test_subscribe_button_tag_escapes_labels():
    html = (
        engines["django"]
        .from_string("{% load django_push %}{% push_subscribe_button label_off=label %}")
        .render({"label": "<b>On</b>"})
    )
    assert "data-django-push-toggle" in html and "&lt;b&gt;On&lt;/b&gt;" in html and "<b>" not in html
