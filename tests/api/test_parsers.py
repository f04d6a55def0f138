"""The API's JSON parser: bounded size, bounded nesting, and text that can be stored and echoed back.

Deep nesting used to escape the parser as a RecursionError (500), and a lone surrogate or NUL reached
validators whose error messages echo the input, which the JSON renderer then could not encode (500).
"""

from __future__ import annotations

import json
from datetime import time

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.views import APIView

from django_push.api import parsers, views
from django_push.models import Device
from django_push.models.inbox import InboxItem
from django_push.models.preferences import NotificationPreference, QuietHours

from ..factories import DeviceFactory, TopicFactory, WebPushDeviceFactory
from .conftest import API, APNS_TOKEN, AUTH, ENDPOINT, P256DH, subscription

pytestmark = pytest.mark.django_db

DEEP = b"[" * 1000 + b"]" * 1000  # about 2 KB
DEPTH_MESSAGE = f"JSON nested deeper than {parsers.MAX_JSON_DEPTH} levels."
TEXT_MESSAGE = "The JSON text must be valid Unicode without NUL characters."


def nested(depth: int) -> bytes:
    """``{"name": [[...]]}``: an object holding lists, ``depth`` containers in all."""
    return b'{"name": ' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"


def ascii_json(data) -> bytes:
    """JSON with every non-ASCII character escaped: how a lone surrogate travels (``"\\ud800"``);
    the test client's own encoder would choke on it before sending."""
    return json.dumps(data).encode()


def json_write_endpoints(user, push_conf):
    """(method, url, client kind) of every endpoint that reads a JSON body."""
    push_conf(ALLOW_ANONYMOUS_WEBPUSH=True)
    device = DeviceFactory(owner=user)
    return [
        ("post", API + "devices/"),
        ("patch", f"{API}devices/{device.public_id}/"),
        ("post", f"{API}devices/{device.public_id}/topics/"),
        ("post", API + "webpush/subscribe/"),
        ("post", API + "webpush/unsubscribe/"),
        ("post", API + "webpush/resubscribe/"),
        ("post", API + "inbox/read/"),
        ("patch", API + "preferences/like/"),
        ("put", API + "preferences/like/"),
        ("put", API + "preferences/quiet-hours/"),
    ]


def test_deep_nesting_is_a_400_on_every_json_endpoint(api, user, push_conf):
    for method, url in json_write_endpoints(user, push_conf):
        response = getattr(api, method)(url, DEEP, content_type="application/json")
        assert response.status_code == 400, (method, url, response.status_code)
        assert response.json() == {"detail": DEPTH_MESSAGE}, (method, url)


def test_anonymous_resubscribe_with_deep_nesting_is_a_400(anon):
    response = anon.post(API + "webpush/resubscribe/", DEEP, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"detail": DEPTH_MESSAGE}


def test_nesting_up_to_the_limit_is_parsed(api):
    at_limit = api.post(API + "devices/", nested(parsers.MAX_JSON_DEPTH), content_type="application/json")
    assert at_limit.status_code == 400
    assert "name" in at_limit.json()  # parsed, then refused by the serializer: not a string
    over = api.post(API + "devices/", nested(parsers.MAX_JSON_DEPTH + 1), content_type="application/json")
    assert over.json() == {"detail": DEPTH_MESSAGE}


def test_brackets_inside_strings_do_not_count_as_nesting(api):
    body = b'{"platform": "apns", "token": "' + APNS_TOKEN.encode() + b'", "name": "' + b"[{" * 100 + b'"}'
    response = api.post(API + "devices/", body, content_type="application/json")
    assert response.status_code == 201, response.json()
    assert Device.objects.get().name == "[{" * 100


def test_escaped_quotes_inside_strings_are_skipped(api):
    body = b'{"platform": "apns", "token": "' + APNS_TOKEN.encode() + b'", "name": "a\\"[[[\\\\"}'
    response = api.post(API + "devices/", body, content_type="application/json")
    assert response.status_code == 201, response.json()
    assert Device.objects.get().name == 'a"[[[\\'


def test_nesting_is_counted_on_the_decoded_text(api):
    """In UTF-16 a backslash is two bytes, so counting bytes would take the escaped quote for the
    string's end, count the brackets inside the string as closing ones and miss the real nesting."""
    deep = "[" * 40 + "]" * 40
    body = ('{"name": "\\"' + "]" * 40 + '", "x": ' + deep + "}").encode("utf-16")
    response = api.post(API + "devices/", body, content_type="application/json; charset=utf-16")
    assert response.json() == {"detail": DEPTH_MESSAGE}


def test_a_recursion_error_is_a_400_whatever_the_recursion_limit(api, monkeypatch):
    """Should the decoder still run out of stack (a lower recursion limit, another interpreter), the
    RecursionError is a 400 too, never a 500."""
    from rest_framework.utils import json as drf_json

    def too_deep(*args, **kwargs):
        raise RecursionError("maximum recursion depth exceeded while decoding a JSON array")

    monkeypatch.setattr(drf_json, "load", too_deep)
    response = api.post(API + "devices/", b"[[]]", content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"detail": "JSON nested too deeply."}


@pytest.mark.parametrize("bad", ["\ud800", "\udfff", "a\x00b"], ids=["high", "low", "nul"])
@pytest.mark.parametrize(
    ("method", "path", "field"),
    [
        ("post", "devices/", "platform"),
        ("post", "devices/", "environment"),
        ("post", "devices/", "name"),
        ("patch", "detail", "environment"),
        ("patch", "detail", "time_zone"),
        ("put", "preferences/quiet-hours/", "time_zone"),
    ],
)
def test_lone_surrogates_and_nul_are_a_400_that_echoes_nothing(api, user, bad, method, path, field):
    device = DeviceFactory(owner=user, name="before")
    url = f"{API}devices/{device.public_id}/" if path == "detail" else API + path
    body = {"platform": "apns", "token": APNS_TOKEN, "start": "22:00", "end": "07:00", field: bad}
    response = getattr(api, method)(url, ascii_json(body), content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json() == {"detail": TEXT_MESSAGE}
    assert Device.objects.count() == 1
    device.refresh_from_db()
    assert (device.name, device.environment, device.time_zone) == ("before", "production", "")
    assert not QuietHours.objects.exists()


def test_a_lone_surrogate_in_a_key_or_nested_value_is_refused(api):
    for body in (
        b'{"\\ud800": 1}',
        b'{"platform": "apns", "token": "' + APNS_TOKEN.encode() + b'", "x": [{"y": "\\udc00"}]}',
        b'{"platform": "apns", "token": "' + APNS_TOKEN.encode() + b'", "name": "\\u0000"}',
    ):
        response = api.post(API + "devices/", body, content_type="application/json")
        assert response.json() == {"detail": TEXT_MESSAGE}, body
    assert not Device.objects.exists()


def test_surrogate_pairs_are_ordinary_text(api):
    body = b'{"platform": "apns", "token": "' + APNS_TOKEN.encode() + b'", "name": "\\ud83d\\ude00"}'
    response = api.post(API + "devices/", body, content_type="application/json")
    assert response.status_code == 201, response.json()
    assert Device.objects.get().name == "\U0001f600"


def test_invalid_utf8_is_a_400(api):
    response = api.post(API + "devices/", b'{"name": "\xed\xa0\x80"}', content_type="application/json")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error")


def test_every_api_view_uses_the_bounded_parser():
    """Every view under the API's URLs (device API, inbox, preferences) parses with it, and nothing
    else: a view added later with DRF's default parsers would bring the 500s back."""
    found = []

    def walk(patterns):
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns)
            elif isinstance(p, URLPattern):
                view = getattr(p.callback, "cls", None) or getattr(p.callback, "view_class", None)
                if view is not None and issubclass(view, APIView):
                    found.append(view)

    walk(get_resolver("django_push.api.urls").url_patterns)
    names = {v.__name__ for v in found}
    assert {"DeviceListView", "WebPushResubscribeView", "InboxViewSet", "QuietHoursView"} <= names
    assert "PreferenceViewSet" in names
    for view in found:
        assert list(view.parser_classes) == [parsers.SizeLimitedJSONParser], view.__name__


def test_views_module_still_exports_the_parser():
    assert views.SizeLimitedJSONParser is parsers.SizeLimitedJSONParser
    assert views.RequestTooLarge is parsers.RequestTooLarge
    assert views.MAX_BODY_BYTES == parsers.MAX_BODY_BYTES


def test_nothing_is_stored_by_refused_bodies(api, user, anon, push_conf):
    device = WebPushDeviceFactory(owner=user, name="kept")
    TopicFactory(name="news")
    QuietHours.objects.create(user=user, start=time(1), end=time(2))
    before = (
        Device.objects.count(),
        InboxItem.objects.count(),
        NotificationPreference.objects.count(),
        QuietHours.objects.count(),
    )
    for method, url in json_write_endpoints(user, push_conf):
        for client in (api, anon):
            getattr(client, method)(url, DEEP, content_type="application/json")
    old = subscription(endpoint=device.address)
    new = subscription(endpoint=ENDPOINT + "\ud800", p256dh=P256DH, auth=AUTH)
    body = ascii_json({"old": old, "subscription": new})
    response = anon.post(API + "webpush/resubscribe/", body, content_type="application/json")
    assert response.json() == {"detail": TEXT_MESSAGE}
    after = (
        Device.objects.count() - 1,  # the device json_write_endpoints made
        InboxItem.objects.count(),
        NotificationPreference.objects.count(),
        QuietHours.objects.count(),
    )
    assert after == before
    address = device.address
    device.refresh_from_db()
    assert (device.name, device.address) == ("kept", address)
