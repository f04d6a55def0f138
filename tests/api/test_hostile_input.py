"""Hostile input on every write endpoint of the API: never a 500, and a refused request changes nothing.

Endpoints come from ``django_push/api/urls.py`` and ``inbox_urls.py``: every POST, PUT, PATCH and
DELETE. Each is sent, signed in and anonymously (with anonymous Web Push allowed, so the anonymous
endpoints parse their bodies too): JSON nested 1,000 levels deep, a lone surrogate and a NUL in each
string field, huge values (1 MB strings, 10^30, -1, floats), wrong types (list, object, null, bool) in
each field and as the whole body, wrong content types, invalid UTF-8, an empty body; and every URL
with the methods it does not allow.

The rule for each request: the status is below 500; a refusal (4xx) leaves every row of Device,
Subscription, Topic, InboxItem, NotificationPreference, QuietHours, WebhookEndpoint, Delivery and
Notification as it was (values included, so a half-applied update shows). A success (2xx) must be one of
the few listed in :func:`accepted`, where DRF's documented coercions or a no-op make it legitimate.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import time
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from rest_framework.test import APIClient

from django_push.devices import webhooks
from django_push.dispatch import engagement
from django_push.models import Delivery, Device, Notification, Subscription, Topic, WebhookEndpoint
from django_push.models.inbox import InboxItem
from django_push.models.preferences import NotificationPreference, QuietHours

from ..factories import DeviceFactory, TopicFactory, UserFactory, WebPushDeviceFactory
from .conftest import API, AUTH, P256DH

pytestmark = pytest.mark.django_db

NEW_APNS = "cd" * 32
NEW_ENDPOINT = "https://fcm.googleapis.com/fcm/send/brand-new-subscription"
OTHER_AUTH = "AAAAAAAAAAAAAAAAAAAAAA"
DEEP = b"[" * 1000 + b"]" * 1000
MEGABYTE = "x" * 1_000_000


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    url: str  # placeholders filled from the world: {mine}, {victim}, {victim_item}
    body: Any = None  # a valid body; None: the endpoint reads no body
    caller: str = "user"  # "idle": a user with nothing to change (endpoints acting on all of theirs)

    @property
    def parses_body(self) -> bool:
        return self.body is not None


ENDPOINTS = [
    Endpoint(
        "register-apns",
        "post",
        "devices/",
        {
            "platform": "apns",
            "application": "default",
            "token": NEW_APNS,
            "environment": "sandbox",
            "name": "Phone",
            "locale": "fr-FR",
            "time_zone": "Europe/Paris",
            "user_agent": "App/1.0",
        },
    ),
    Endpoint(
        "register-webpush",
        "post",
        "devices/",
        {"platform": "webpush", "token": NEW_ENDPOINT, "p256dh": P256DH, "auth": OTHER_AUTH},
    ),
    Endpoint(
        "update-device",
        "patch",
        "devices/{mine}/",
        {"name": "Renamed", "locale": "de", "time_zone": "Europe/Berlin", "environment": "sandbox"},
    ),
    Endpoint("join-topic", "post", "devices/{mine}/topics/", {"topic": "news"}),
    Endpoint(
        "subscribe",
        "post",
        "webpush/subscribe/",
        {
            "endpoint": NEW_ENDPOINT,
            "expirationTime": None,
            "keys": {"p256dh": P256DH, "auth": OTHER_AUTH},
            "application": "default",
            "name": "Firefox",
            "locale": "fr",
            "time_zone": "Europe/Paris",
        },
    ),
    Endpoint(
        "unsubscribe",
        "post",
        "webpush/unsubscribe/",
        {"endpoint": "{browser}", "keys": {"auth": AUTH, "p256dh": P256DH}},
    ),
    Endpoint(
        "resubscribe",
        "post",
        "webpush/resubscribe/",
        {
            "old": {"endpoint": "{browser}", "keys": {"auth": AUTH, "p256dh": P256DH}},
            "subscription": {
                "endpoint": NEW_ENDPOINT,
                "expirationTime": None,
                "keys": {"p256dh": P256DH, "auth": OTHER_AUTH},
            },
        },
    ),
    Endpoint("read-many", "post", "inbox/read/", {"ids": ["{unread_item}"]}),
    Endpoint("engagement", "post", "engagement/", {"reference": "{reference}", "event": "clicked"}),
    Endpoint("preference-patch", "patch", "preferences/like/", {"push": False, "in_app": False}),
    Endpoint("preference-put", "put", "preferences/like/", {"push": False}),
    Endpoint("preference-patch-unset", "patch", "preferences/announcement/", {"push": False}),
    Endpoint(
        "quiet-hours-put",
        "put",
        "preferences/quiet-hours/",
        {"enabled": False, "start": "23:00", "end": "06:00", "time_zone": "America/Toronto"},
    ),
    # Writes that read no body: sent at someone else's rows, or by a user with nothing to change.
    Endpoint("delete-device", "delete", "devices/{victim}/"),
    Endpoint("leave-topic", "delete", "devices/{victim}/topics/news/"),
    Endpoint("delete-item", "delete", "inbox/{victim_item}/"),
    Endpoint("read-one", "post", "inbox/{victim_item}/read/"),
    Endpoint("read-all", "post", "inbox/read-all/", caller="idle"),
    Endpoint("quiet-hours-delete", "delete", "preferences/quiet-hours/", caller="idle"),
    # Users' own webhook endpoints (WEBHOOKS_USER_API on in the world below).
    Endpoint(
        "create-webhook",
        "post",
        "webhooks/",
        {
            "url": "https://hooks.example.com/new",
            "description": "ERP",
            "event_types": ["a.b"],
            "active": True,
        },
    ),
    Endpoint(
        "update-webhook",
        "patch",
        "webhooks/{hook}/",
        {
            "url": "https://hooks.example.com/moved",
            "description": "CRM",
            "event_types": ["c"],
            "active": False,
        },
    ),
    Endpoint("delete-webhook", "delete", "webhooks/{victim_hook}/"),
    Endpoint("rotate-webhook", "post", "webhooks/{victim_hook}/rotate-secret/"),
]
WITH_BODY = [e for e in ENDPOINTS if e.parses_body]

# Every URL of the API and the methods it allows (besides HEAD and OPTIONS).
ALLOWED_METHODS = {
    "devices/": {"GET", "POST"},
    "devices/{mine}/": {"GET", "PATCH", "DELETE"},
    "devices/{mine}/topics/": {"GET", "POST"},
    "devices/{mine}/topics/news/": {"DELETE"},
    "topics/": {"GET"},
    "webpush/subscribe/": {"POST"},
    "webpush/unsubscribe/": {"POST"},
    "webpush/resubscribe/": {"POST"},
    "webpush/vapid-public-key/": {"GET"},
    "engagement/": {"POST"},
    "inbox/": {"GET"},
    "inbox/unread-count/": {"GET"},
    "inbox/{unread_item}/": {"GET", "DELETE"},
    "inbox/{unread_item}/read/": {"POST"},
    "inbox/read/": {"POST"},
    "inbox/read-all/": {"POST"},
    "preferences/": {"GET"},
    "preferences/like/": {"GET", "PUT", "PATCH"},
    "preferences/quiet-hours/": {"GET", "PUT", "DELETE"},
    "webhooks/": {"GET", "POST"},
    "webhooks/{hook}/": {"GET", "PATCH", "DELETE"},
    "webhooks/{hook}/rotate-secret/": {"POST"},
}
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "TRACE")


@pytest.fixture
def world(push_conf, monkeypatch):
    """Rows for every endpoint to aim at, for the signed-in user and for another one (the victim)."""
    push_conf(
        ALLOW_ANONYMOUS_WEBPUSH=True,
        API_THROTTLE_RATE=None,
        ENGAGEMENT_THROTTLE_RATE=None,
        WEBHOOKS_USER_API=True,
    )
    # Webhook URLs' DNS lookups, answered without the network (IP literals stay themselves).
    resolve = webhooks.resolve_sync
    monkeypatch.setattr(
        webhooks,
        "resolve_sync",
        lambda h, p: resolve(h, p) if h[0].isdigit() or ":" in h else ["93.184.215.14"],
    )
    user, victim, idle = UserFactory(), UserFactory(), UserFactory()
    news = TopicFactory(name="news", self_subscribe=True)
    mine = DeviceFactory(owner=user, name="Mine", locale="en-GB", time_zone="Europe/London")
    browser = WebPushDeviceFactory(owner=user, name="Browser", auth=AUTH)
    theirs = DeviceFactory(owner=victim, name="Theirs")
    Subscription.objects.create(device=theirs, topic=news)
    unread = InboxItem.objects.create(user=user, title="unread")
    InboxItem.objects.create(user=user, title="read", read_at=timezone.now())
    victim_item = InboxItem.objects.create(user=victim, title="theirs")
    NotificationPreference.objects.create(user=user, notification_type="like", push=True, in_app=True)
    QuietHours.objects.create(user=user, start=time(22), end=time(7), time_zone="Europe/Paris")
    QuietHours.objects.create(user=victim, start=time(1), end=time(2))
    hook, _ = webhooks.create_endpoint(url="https://hooks.example.com/mine", owner=user)
    victim_hook, _ = webhooks.create_endpoint(url="https://hooks.example.com/theirs", owner=victim)
    pushed = Notification.objects.create(title="pushed", status="done")
    Delivery.objects.create(notification=pushed, device=mine, platform=mine.platform, status="sent")
    places = {
        "reference": engagement.sign(pushed.public_id, mine.public_id),
        "mine": str(mine.public_id),
        "victim": str(theirs.public_id),
        "victim_item": str(victim_item.public_id),
        "unread_item": str(unread.public_id),
        "browser": browser.address,
        "hook": str(hook.public_id),
        "victim_hook": str(victim_hook.public_id),
    }
    clients = {}
    for name, who in (("user", user), ("idle", idle)):
        clients[name] = APIClient()
        clients[name].force_authenticate(who)
    clients["anon"] = APIClient()
    return places, clients


def fill(value: Any, places: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**places) if "{" in value else value
    if isinstance(value, dict):
        return {k: fill(v, places) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, places) for v in value]
    return value


def state() -> list[list[dict[str, Any]]]:
    return [
        list(model.objects.order_by("pk").values())
        for model in (
            Device,
            Subscription,
            Topic,
            InboxItem,
            NotificationPreference,
            QuietHours,
            WebhookEndpoint,
            Delivery,
            Notification,
        )
    ]


def leaves(body: Any, path: tuple = ()) -> list[tuple[tuple, Any]]:
    """(path, value) of every field of a body, nested objects and their members, list items."""
    found = []
    if isinstance(body, dict):
        for key, value in body.items():
            found.append(((*path, key), value))
            found.extend(leaves(value, (*path, key)))
    elif isinstance(body, list):
        for i, value in enumerate(body):
            found.append(((*path, i), value))
            found.extend(leaves(value, (*path, i)))
    return found


def replace(body: Any, path: tuple, value: Any) -> Any:
    body = json.loads(json.dumps(body))
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return body


NO_OP_WHEN_EMPTY = (
    "update-device",
    "preference-patch",
    "preference-put",
    "preference-patch-unset",
    "update-webhook",
)


def verdict(endpoint: Endpoint, case: str, path: tuple, value: Any) -> str:
    """What a success (2xx) may be: "refused" (it must not succeed), "no-op" (it may succeed, changing
    nothing) or "effect" (a legitimate write), each for a documented reason."""
    field = path[-1] if path else None
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not endpoint.parses_body:
        return "no-op"  # the body is not read; the request aims at nothing the caller may change
    if endpoint.name in NO_OP_WHEN_EMPTY and case == "empty":
        return "no-op"  # a PATCH with nothing in it
    if len(path) == 2 and path[0] == "ids" and isinstance(value, int) and value >= 0:
        return "no-op"  # DRF's UUIDField takes an integer (bool included) as UUID(int=...): nobody's item
    if path in (("keys", "p256dh"), ("old", "keys", "p256dh")) and endpoint.name != "subscribe":
        return "effect"  # the proof needs keys.auth only; p256dh is "accepted and ignored"
    if endpoint.name == "unsubscribe":
        return "no-op"  # an endpoint nobody has: 204, as for any unknown subscription
    if field in ("name", "user_agent", "description") and number:
        return "effect"  # DRF's CharField takes a number as its text ("1.5")
    if path[:1] == ("event_types",) and len(path) == 2 and number:
        return "effect"  # the same for each event type name
    if field == "expirationTime" and (number or isinstance(value, bool)) and value >= 0:
        return "effect"  # accepted and ignored, as documented; DRF's FloatField takes true as 1.0
    if field in ("push", "in_app", "enabled", "active") and number and value in (1, 0):
        return "effect"  # DRF's BooleanField takes 1 and 0, so 1.0 and 0.0
    return "refused"


def send(client: APIClient, method: str, url: str, body: bytes | None, content_type: str | None) -> Any:
    """The request as a client would send it: these bytes, this Content-Type (none: no header)."""
    extra = {} if content_type is not None else {"CONTENT_TYPE": ""}
    return client.generic(method.upper(), url, body or b"", content_type=content_type or "", **extra)


class Check:
    """Sends requests and collects every broken rule, so one run reports them all."""

    def __init__(self, world, endpoint: Endpoint, who: str) -> None:
        self.places, clients = world
        self.client = clients["anon" if who == "anon" else endpoint.caller]
        self.endpoint = endpoint
        self.url = API + fill(endpoint.url, self.places)
        self.failures: list[str] = []
        self.sent = 0

    def valid_body(self) -> Any:
        return fill(self.endpoint.body, self.places)

    def __call__(
        self,
        label: str,
        body: Any,
        *,
        raw: bytes | None = None,
        content_type: str | None = "application/json",
        case: str = "",
        path: tuple = (),
        value: Any = None,
        method: str | None = None,
        expect: int | None = None,
    ) -> None:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        before = state()
        try:
            response = send(self.client, method or self.endpoint.method, self.url, data, content_type)
        except Exception as exc:  # the test client re-raises what would have been a 500
            self.failures.append(f"{label}: raised {type(exc).__name__}: {str(exc)[:120]}")
            return
        self.sent += 1
        status = response.status_code
        where = f"{label}: {status}"
        if status >= 500:
            self.failures.append(f"{where} (server error)")
        elif expect is not None and status != expect:
            self.failures.append(f"{where} (expected {expect})")
        else:
            allowed = "refused" if status >= 400 else verdict(self.endpoint, case, path, value)
            if allowed == "refused" and status < 400:
                self.failures.append(f"{where} (accepted: {response.content[:160]!r})")
            elif allowed != "effect" and state() != before:
                self.failures.append(f"{where} but rows changed")

    def verify(self) -> None:
        assert self.sent, "no request was sent"
        assert not self.failures, "\n".join(self.failures)


def each(endpoints):
    return [pytest.param(e, who, id=f"{e.name}-{who}") for e in endpoints for who in ("user", "anon")]


@pytest.mark.parametrize(("endpoint", "who"), each(ENDPOINTS))
def test_deep_nesting(world, endpoint, who):
    check = Check(world, endpoint, who)
    check("1000 levels", None, raw=DEEP)
    check("1000 levels in a field", None, raw=b'{"name": ' + DEEP + b"}")
    check.verify()


@pytest.mark.parametrize(("endpoint", "who"), each(ENDPOINTS))
def test_lone_surrogates_and_nul_in_each_string_field(world, endpoint, who):
    check = Check(world, endpoint, who)
    body = check.valid_body() if endpoint.parses_body else {"name": "x"}
    if not any(isinstance(value, str) for _, value in leaves(body)):
        body = {**body, "note": "an unknown field"}  # still parsed, then ignored
    strings = [(path, value) for path, value in leaves(body) if isinstance(value, str)]
    for path, value in strings:
        for bad in ("\ud800", "\udfff", value + "\ud83d", "\x00", value + "\x00"):
            check(f"{path}={bad!r}", replace(body, path, bad), path=path, value=bad)
    check("key", {**body, "\udc00": 1})
    check.verify()


@pytest.mark.parametrize(("endpoint", "who"), each(ENDPOINTS))
def test_huge_and_out_of_range_values_in_each_field(world, endpoint, who):
    check = Check(world, endpoint, who)
    body = check.valid_body() if endpoint.parses_body else {"name": "x"}
    for path, _ in leaves(body):
        for bad in (MEGABYTE, 10**30, -(10**30), -1, 1.5, 1.0, 0.0, 1e308):
            shown = bad if not isinstance(bad, str) else "1 MB"
            check(f"{path}={shown}", replace(body, path, bad), case="huge", path=path, value=bad)
    check.verify()


@pytest.mark.parametrize(("endpoint", "who"), each(ENDPOINTS))
def test_wrong_types_in_each_field_and_as_the_body(world, endpoint, who):
    check = Check(world, endpoint, who)
    body = check.valid_body() if endpoint.parses_body else {"name": "x"}
    for path, original in leaves(body):
        for bad in ([], ["x"], {}, {"x": "y"}, None, True, False):
            if type(bad) is type(original) or (bad is None and original is None):
                continue  # the right type: not a wrong one
            check(f"{path}={bad!r}", replace(body, path, bad), case="type", path=path, value=bad)
    for whole in ([], [body], "text", 42, None, True):
        check(f"body={str(whole)[:30]}", None, raw=json.dumps(whole).encode(), case="body", value=whole)
    check.verify()


@pytest.mark.parametrize(("endpoint", "who"), each(ENDPOINTS))
def test_wrong_content_types_and_bad_bytes(world, endpoint, who):
    check = Check(world, endpoint, who)
    body = check.valid_body() if endpoint.parses_body else {"name": "x"}
    text = json.dumps(body).encode()
    check("text/plain", None, raw=text, content_type="text/plain")
    check("xml", None, raw=b"<device/>", content_type="application/xml")
    check("form", None, raw=b"platform=apns&token=x", content_type="application/x-www-form-urlencoded")
    check(
        "multipart",
        None,
        raw=b'--b\r\nContent-Disposition: form-data; name="platform"\r\n\r\napns\r\n--b--\r\n',
        content_type="multipart/form-data; boundary=b",
    )
    check("invalid UTF-8", None, raw=b'{"name": "\xff\xfe\xed\xa0\x80"}')
    check("UTF-8 surrogate bytes", None, raw=b'{"name": "\xed\xa0\x80"}')
    check("not JSON", None, raw=b"{'platform': 'apns'")
    check("NaN", None, raw=text[:-1] + b', "x": NaN}')
    check(
        "utf-16 declared",
        None,
        raw=DEEP.decode().encode("utf-16"),
        content_type="application/json; charset=utf-16",
    )
    check("unknown charset", None, raw=DEEP, content_type="application/json; charset=klingon")
    check.verify()


@pytest.mark.parametrize(("endpoint", "who"), each(ENDPOINTS))
def test_empty_body(world, endpoint, who):
    check = Check(world, endpoint, who)
    check("empty JSON", None, raw=b"", case="empty")
    check("no content type", None, raw=b"", content_type=None, case="empty")
    check("whitespace", None, raw=b"  \n", case="empty")
    check.verify()


@pytest.mark.parametrize("who", ["user", "anon"])
@pytest.mark.parametrize("url", sorted(ALLOWED_METHODS))
def test_methods_not_allowed_are_405(world, url, who):
    endpoint = Endpoint(url, "get", url)
    check = Check(world, endpoint, who)
    for method in METHODS:
        if method in ALLOWED_METHODS[url]:
            continue
        # Anonymous callers may be refused before the method is looked at (401/403): still no 500.
        expect = 405 if who == "user" or url.startswith("webpush/") else None
        check(method, {"name": "x"}, method=method, expect=expect)
    check.verify()


def test_the_suite_covers_every_write_endpoint_of_the_api():
    """Every URL pattern of the API is in ALLOWED_METHODS, and every write method of it in ENDPOINTS."""
    from django.urls import URLPattern, URLResolver, get_resolver

    patterns = []

    def walk(items, prefix=""):
        for p in items:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                patterns.append(prefix + str(p.pattern))

    walk(get_resolver("django_push.api.urls").url_patterns)
    assert len(patterns) == len(ALLOWED_METHODS), patterns
    written = {(e.method.upper(), e.url) for e in ENDPOINTS}
    generic = {
        "devices/{victim}/": "devices/{mine}/",
        "devices/{victim}/topics/news/": "devices/{mine}/topics/news/",
        "inbox/{victim_item}/": "inbox/{unread_item}/",
        "inbox/{victim_item}/read/": "inbox/{unread_item}/read/",
        "preferences/announcement/": "preferences/like/",
        "webhooks/{victim_hook}/": "webhooks/{hook}/",
        "webhooks/{victim_hook}/rotate-secret/": "webhooks/{hook}/rotate-secret/",
    }
    covered = {(method, generic.get(url, url)) for method, url in written}
    writes = {(m, url) for url, ms in ALLOWED_METHODS.items() for m in ms if m != "GET"}
    assert writes == covered


def test_the_valid_bodies_are_valid(world):
    """Each hostile variant changes one thing in a body that is otherwise accepted: were the base body
    refused anyway, the suite would prove little."""
    places, clients = world
    for endpoint in WITH_BODY:
        before = state()
        savepoint = transaction.savepoint()
        try:
            response = send(
                clients[endpoint.caller],
                endpoint.method,
                API + fill(endpoint.url, places),
                json.dumps(fill(endpoint.body, places)).encode(),
                "application/json",
            )
            assert response.status_code < 300, (endpoint.name, response.content)
            assert state() != before, endpoint.name  # it did something
        finally:
            transaction.savepoint_rollback(savepoint)  # the next endpoint finds the world unchanged
        assert state() == before
