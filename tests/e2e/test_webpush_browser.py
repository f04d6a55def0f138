"""Web Push end to end in Debian's Chromium, driven by Playwright.

Offline, Chromium cannot reach a push service, so ``pushManager.subscribe`` is replaced in the page by
one that returns a subscription whose keys this test holds (it says so below). Everything else is real:
the service worker registers from django_push's view, the subscribe helper fetches the VAPID key and
POSTs the subscription to the API (CSRF and session auth included), which stores a Device; our Web Push
backend encrypts a push for that Device; the test decrypts it with an independent implementation
(http_ece) and hands the plaintext to the service worker through the DevTools protocol, as the browser
would after decrypting; the worker shows the notification, which the page reads back.
"""

from __future__ import annotations

import base64
import json
import os
import time

import pytest

pytest.importorskip("http_ece")  # the "webpush" extra (see tests/conftest.py)
import http_ece
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from django_push.backends.webpush import WebPushBackend, vapid_public_key
from django_push.message import PushMessage
from django_push.models import Device

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.urls("tests.e2e.webpush_urls"),
]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs a loop in this thread

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOWN_NOTIFICATIONS = """navigator.serviceWorker.ready.then(r => r.getNotifications())
    .then(ns => ns.map(n => ({title: n.title, body: n.body, data: n.data})))"""
ENDPOINT = "https://fcm.googleapis.com/fcm/send/e2e-browser-subscription"


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.fixture
def browser_keys():
    private = ec.generate_private_key(ec.SECP256R1())
    public = private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return private, b64(public), b64(os.urandom(16))


@pytest.fixture
def vapid_private():
    return b64(ec.generate_private_key(ec.SECP256R1()).private_numbers().private_value.to_bytes(32, "big"))


def test_subscribe_then_push_shows_notification(
    live_server, settings, django_user_model, client, browser_keys, vapid_private
):
    from playwright.sync_api import sync_playwright

    private, p256dh, auth = browser_keys
    settings.DJANGO_PUSH = {
        "BACKENDS": {
            "webpush": {
                "BACKEND": "django_push.backends.webpush.WebPushBackend",
                "OPTIONS": {"vapid_private_key": vapid_private, "vapid_subject": "mailto:e2e@example.com"},
            }
        },
        "VAPID_PUBLIC_KEY": vapid_public_key(vapid_private),
    }
    settings.REST_FRAMEWORK = {
        "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"]
    }
    user = django_user_model.objects.create_user("alice", password="pw-alice-123")
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    origin = live_server.url

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context()
        context.grant_permissions(["notifications"], origin=origin)
        context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": origin}])
        # The one stand-in: subscribe() cannot reach a push service offline (see module docstring).
        context.add_init_script(f"""
            (() => {{
              if (typeof PushManager === 'undefined') return;
              let current = null;
              const fake = {{
                endpoint: {json.dumps(ENDPOINT)},
                toJSON() {{ return {{endpoint: this.endpoint, expirationTime: null,
                                     keys: {{p256dh: {json.dumps(p256dh)}, auth: {json.dumps(auth)}}}}}; }},
                unsubscribe: async () => {{ current = null; return true; }},
              }};
              PushManager.prototype.subscribe = async function (options) {{
                window.__subscribeOptions = options; current = fake; return fake; }};
              PushManager.prototype.getSubscription = async function () {{ return current; }};
            }})();
        """)
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        registrations: list[dict] = []
        cdp.on(
            "ServiceWorker.workerRegistrationUpdated",
            lambda e: registrations.extend(e["registrations"]),
        )
        cdp.send("ServiceWorker.enable")
        page.goto(origin + "/")
        button = page.locator("[data-django-push-toggle]")
        button.wait_for()
        assert button.inner_text() == "Turn on notifications"
        button.click()
        page.wait_for_function(
            "document.querySelector('[data-django-push-toggle]').getAttribute('aria-pressed') === 'true'",
            timeout=15000,
        )
        # The helper asked for a subscription with our VAPID public key, and the API stored the device.
        key_len = page.evaluate("window.__subscribeOptions.applicationServerKey.byteLength")
        assert key_len == 65
        device = Device.objects.get(platform="webpush", address=ENDPOINT)
        assert (device.owner, device.p256dh, device.auth) == (user, p256dh, auth)

        # Our backend builds the encrypted push; an independent decryption proves what the browser gets.
        backend = WebPushBackend(
            alias="webpush", vapid_private_key=vapid_private, vapid_subject="mailto:e2e@example.com"
        )
        request = backend.build_request(
            PushMessage(title="Order shipped", body="It is on its way", url="/orders/42"), device.to_target()
        )
        plaintext = http_ece.decrypt(
            request.content,
            private_key=private,
            auth_secret=base64.urlsafe_b64decode(auth + "=" * (-len(auth) % 4)),
            version="aes128gcm",
        )
        assert json.loads(plaintext)["title"] == "Order shipped"

        # Deliver only once the worker is active, to the live registration for this page's scope.
        assert page.evaluate("navigator.serviceWorker.ready.then(r => r.active !== null)")
        scope = origin + "/"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any(
            r.get("scopeURL") == scope and not r.get("isDeleted") for r in registrations
        ):
            page.wait_for_timeout(100)
        live = [
            r["registrationId"]
            for r in registrations
            if r.get("scopeURL") == scope and not r.get("isDeleted")
        ]
        assert live, f"the service worker never registered: {registrations}"
        shown = None
        for _ in range(3):  # a busy machine may need the message again; the worker shows it once
            cdp.send(
                "ServiceWorker.deliverPushMessage",
                {"origin": origin, "registrationId": live[-1], "data": plaintext.decode()},
            )
            for _ in range(50):
                shown = page.evaluate(SHOWN_NOTIFICATIONS)
                if shown:
                    break
                page.wait_for_timeout(100)
            if shown:
                break
        os.makedirs("tests/screenshots", exist_ok=True)
        page.screenshot(path="tests/screenshots/webpush-subscribed.png")
        browser.close()
    assert shown and shown[0]["title"] == "Order shipped" and shown[0]["body"] == "It is on its way"
    assert shown[0]["data"]["url"] == "/orders/42"
