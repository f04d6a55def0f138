"""Declarative Web Push in Debian's Chromium: the bundled service worker shows a declarative payload,
and the subscribe helper reports which PushManager it used.

Chromium has no declarative support of its own (Safari 18.4+ does), so this is exactly the case the
bundled ``sw.js`` exists for: one payload that Safari shows by itself and every other browser's worker
shows. The payload is the one our Web Push backend builds in ``declarative`` mode; it is handed to the
worker through the DevTools protocol (no push service offline), as in test_webpush_browser.py.

Chromium has no ``window.pushManager`` either: the second test installs one in the page (it says so)
to check the helper subscribes through it and posts ``push_manager: "window"``.
"""

from __future__ import annotations

import json
import os
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

pytest.importorskip("http_ece")  # the "webpush" extra (see tests/conftest.py)

from django_push.backends.webpush import WebPushBackend, vapid_public_key
from django_push.message import PushMessage
from django_push.models import Device, PushManagerKind

from .test_webpush_browser import CHROMIUM_ARGS, ENDPOINT, b64

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.urls("tests.e2e.webpush_urls"),
]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

SHOWN = """navigator.serviceWorker.ready.then(r => r.getNotifications())
    .then(ns => ns.map(n => ({title: n.title, body: n.body, tag: n.tag, icon: n.icon, lang: n.lang,
                               dir: n.dir, data: n.data})))"""


@pytest.fixture
def browser_keys():
    private = ec.generate_private_key(ec.SECP256R1())
    public = private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return b64(public), b64(os.urandom(16))


@pytest.fixture
def vapid_private():
    return b64(ec.generate_private_key(ec.SECP256R1()).private_numbers().private_value.to_bytes(32, "big"))


def push_settings(vapid: str, **options) -> dict:
    return {
        "BACKENDS": {
            "webpush": {
                "BACKEND": "django_push.backends.webpush.WebPushBackend",
                "OPTIONS": {"vapid_private_key": vapid, "vapid_subject": "mailto:e2e@example.com", **options},
            }
        },
        "VAPID_PUBLIC_KEY": vapid_public_key(vapid),
    }


def live_registration(page, registrations: list[dict], scope: str) -> str:
    assert page.evaluate("navigator.serviceWorker.ready.then(r => r.active !== null)")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not any(
        r.get("scopeURL") == scope and not r.get("isDeleted") for r in registrations
    ):
        page.wait_for_timeout(100)
    live = [
        r["registrationId"] for r in registrations if r.get("scopeURL") == scope and not r.get("isDeleted")
    ]
    assert live, f"the service worker never registered: {registrations}"
    return live[-1]


def test_service_worker_shows_a_declarative_payload(live_server, settings, vapid_private):
    from playwright.sync_api import sync_playwright

    settings.DJANGO_PUSH = push_settings(vapid_private)
    origin = live_server.url
    backend = WebPushBackend(
        alias="webpush",
        vapid_private_key=vapid_private,
        vapid_subject="mailto:e2e@example.com",
        payload_format="declarative",
        declarative_base_url=origin,
    )
    message = PushMessage(
        title="Goal!",
        body="2-1 in the 88th minute",
        url="/match/7",
        icon=origin + "/static/icon.png",
        collapse_key="match-7",
        badge=2,
        data={"match": 7},
        overrides={"webpush": {"notification": {"lang": "en-GB", "dir": "ltr"}}},
    )
    plaintext = backend.plaintext(message, declarative=True).decode()
    payload = json.loads(plaintext)
    assert payload["web_push"] == 8030 and payload["notification"]["navigate"] == origin + "/match/7"

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context()
        context.grant_permissions(["notifications"], origin=origin)
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        registrations: list[dict] = []
        cdp.on("ServiceWorker.workerRegistrationUpdated", lambda e: registrations.extend(e["registrations"]))
        cdp.send("ServiceWorker.enable")
        page.goto(origin + "/")
        registration_id = live_registration(page, registrations, origin + "/")
        shown = None
        for _ in range(3):  # a busy machine may need the message again; the worker shows it once (tag)
            cdp.send(
                "ServiceWorker.deliverPushMessage",
                {"origin": origin, "registrationId": registration_id, "data": plaintext},
            )
            for _ in range(50):
                shown = page.evaluate(SHOWN)
                if shown:
                    break
                page.wait_for_timeout(100)
            if shown:
                break
        browser.close()
    assert shown, "the service worker showed nothing for the declarative payload"
    (notification,) = shown
    assert (notification["title"], notification["body"]) == ("Goal!", "2-1 in the 88th minute")
    assert (notification["tag"], notification["lang"], notification["dir"]) == ("match-7", "en-GB", "ltr")
    assert notification["icon"] == origin + "/static/icon.png"
    # A click opens data.url (sw.js notificationclick): the declarative navigate URL.
    assert notification["data"]["url"] == origin + "/match/7"
    assert notification["data"]["match"] == 7


def test_helper_subscribes_through_window_push_manager_and_says_so(
    live_server, settings, django_user_model, client, browser_keys, vapid_private
):
    from playwright.sync_api import sync_playwright

    p256dh, auth = browser_keys
    settings.DJANGO_PUSH = push_settings(vapid_private)
    settings.REST_FRAMEWORK = {
        "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"]
    }
    user = django_user_model.objects.create_user("bob", password="pw-bob-12345")
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    origin = live_server.url

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context()
        context.grant_permissions(["notifications"], origin=origin)
        context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": origin}])
        # The stand-in: Chromium has no window.pushManager (Safari 18.4+ does); this one records its use.
        context.add_init_script(f"""
            (() => {{
              let current = null;
              const sub = {{
                endpoint: {json.dumps(ENDPOINT)},
                toJSON() {{ return {{endpoint: this.endpoint, expirationTime: null,
                                     keys: {{p256dh: {json.dumps(p256dh)}, auth: {json.dumps(auth)}}}}}; }},
                unsubscribe: async () => {{ current = null; return true; }},
              }};
              window.pushManager = {{
                subscribe: async (options) => {{
                  window.__windowSubscribe = options; current = sub; return sub; }},
                getSubscription: async () => current,
              }};
              if (typeof PushManager !== 'undefined') {{
                PushManager.prototype.subscribe = async () => {{
                  throw new Error('used the worker manager'); }};
              }}
            }})();
        """)
        page = context.new_page()
        page.goto(origin + "/")
        button = page.locator("[data-django-push-toggle]")
        button.wait_for()
        button.click()
        page.wait_for_function(
            "document.querySelector('[data-django-push-toggle]').getAttribute('aria-pressed') === 'true'",
            timeout=15000,
        )
        key_len = page.evaluate("window.__windowSubscribe.applicationServerKey.byteLength")
        browser.close()
    assert key_len == 65
    device = Device.objects.get(platform="webpush", address=ENDPOINT)
    assert (device.owner, device.push_manager) == (user, PushManagerKind.WINDOW)
    assert device.to_target().declarative is True
