"""The admin console staff prefer, in Debian's Chromium driven by Playwright.

* A click on a delivered push, in the bundled service worker, shows on the notification page within
  one poll: the push's payload (as our Web Push backend builds it, with its signed delivery
  reference) is delivered to the registered worker through the DevTools protocol; headless Chromium
  has no notification UI to click, so the click is a ``NotificationEvent("notificationclick")`` for
  the notification the worker showed, dispatched in the worker's own scope (Playwright's service
  worker handle). The worker's engagement listener reports it to ``/api/push/engagement/``.
* The live chart moving during a send: the send is driven in steps between polls (the test plays
  the worker: it plans the deliveries, then processes one chunk, then the other, with the page's
  progress polls held at Playwright's router while it touches the database, since the live server
  shares the test's in-memory SQLite connection). The chart, the delivery log and the bar move
  without a reload.
* Reach changing as the composer's audience changes; the rendered looks on the preview step.
* The per-user page, its test push; the dashboard; the lists at 1280 px.

Screenshots go to tests/screenshots/console-*.png.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from django_push import dispatch, testing
from django_push.backends.payload import webpush_payload
from django_push.dispatch import recording
from django_push.message import PushMessage
from django_push.models import Delivery, Notification, Subscription, Topic
from django_push.templatetags.django_push import push_urls

from ..factories import DeviceFactory, UserFactory, WebPushDeviceFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.urls("tests.e2e.console_urls"),
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
SHOTS = Path(__file__).resolve().parent.parent / "screenshots"
SHOWN = "navigator.serviceWorker.ready.then(r => r.getNotifications()).then(ns => ns.map(n => n.title))"
CLICK = """async () => {
  const [notification] = await self.registration.getNotifications();
  const event = new NotificationEvent("notificationclick", { notification });
  const pending = [];
  // A script-made event may not call waitUntil (it throws for untrusted events): collect instead.
  Object.defineProperty(event, "waitUntil", { value: (p) => pending.push(p) });
  self.dispatchEvent(event);
  const results = await Promise.allSettled(pending);
  return results.length;
}"""


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


def login(context, live_server, username="root", password="pw-root-123"):
    page = context.new_page()
    page.set_default_timeout(15000)
    page.goto(live_server.url + "/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_selector("#user-tools")
    return page


class Polls:
    """Holds the page's progress polls while the test thread uses the database."""

    def __init__(self, page) -> None:
        self.page = page
        self.held: list = []
        self.holding = False
        page.route("**/progress/*", self._route)
        page.route("**/progress/", self._route)

    def _route(self, route) -> None:
        if self.holding:
            self.held.append(route)
        else:
            route.continue_()

    def hold(self) -> None:
        """From now on polls wait; returns once one is waiting (so none is in flight)."""
        self.holding = True
        count = len(self.held)
        for _ in range(100):
            if len(self.held) > count:
                return
            self.page.wait_for_timeout(100)
        raise AssertionError("the page stopped polling")

    def release(self) -> None:
        self.holding = False
        held, self.held = self.held, []
        for route in held:
            route.continue_()


def test_a_click_in_the_service_worker_shows_on_the_notification_page(
    live_server, browser, django_user_model
):
    from playwright.sync_api import expect

    django_user_model.objects.create_superuser("root", "root@example.com", "pw-root-123")
    device = WebPushDeviceFactory(owner=UserFactory(username="alice"))
    n = dispatch.send_message(
        PushMessage(title="Order shipped", body="On its way", url="/orders/42"), [device]
    )
    payload = json.dumps(webpush_payload(testing.outbox[0].message))
    assert '"dp_ref"' in payload  # what the worker receives carries the signed reference
    worker_url = push_urls()["worker"]
    origin = live_server.url

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(["notifications"], origin=origin)
    admin = login(context, live_server)
    admin.goto(f"{origin}/admin/django_push/notification/{n.pk}/change/")
    expect(admin.locator('#push-progress [data-field="clicked"]')).to_have_text("0")
    admin.evaluate("window.__samePage = true")

    site = context.new_page()
    cdp = context.new_cdp_session(site)
    registrations: list[dict] = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda e: registrations.extend(e["registrations"]))
    cdp.send("ServiceWorker.enable")
    site.goto(origin + "/push-sw.js")  # any page of the origin, to register from
    site.evaluate(f"navigator.serviceWorker.register({json.dumps(worker_url)}, {{scope: '/'}})")
    assert site.evaluate("navigator.serviceWorker.ready.then(r => r.active !== null)")
    live = [
        r["registrationId"]
        for r in registrations
        if r.get("scopeURL") == origin + "/" and not r.get("isDeleted")
    ]
    assert live, registrations
    shown: list = []
    for _ in range(3):
        cdp.send(
            "ServiceWorker.deliverPushMessage",
            {"origin": origin, "registrationId": live[-1], "data": payload},
        )
        for _ in range(50):
            shown = site.evaluate(SHOWN)
            if shown:
                break
            site.wait_for_timeout(100)
        if shown:
            break
    assert shown == ["Order shipped"]
    # The display report goes first; then the click, dispatched in the worker (see module docstring).
    worker = next(w for w in context.service_workers if "push-sw.js" in w.url)
    assert worker.evaluate(CLICK) >= 1

    # Within one poll (five seconds once final), without a reload, the page counts the click.
    expect(admin.locator('#push-progress [data-field="clicked"]')).to_have_text("1", timeout=8000)
    expect(admin.locator('#push-progress [data-field="opened"]')).to_have_text("1")
    expect(admin.locator('#push-funnel tr[data-platform="webpush"]')).to_have_attribute("data-clicked", "1")
    assert admin.evaluate("window.__samePage === true")
    admin.screenshot(path=str(SHOTS / "console-1-click-counted.png"), full_page=True)
    context.close()

    delivery = Delivery.objects.get(notification=n)
    assert (
        delivery.clicked_at is not None
        and delivery.opened_at is not None
        and delivery.displayed_at is not None
    )
    n.refresh_from_db()
    assert (n.displayed, n.opened, n.clicked) == (1, 1, 1)


def test_the_chart_and_log_move_while_it_sends(live_server, browser, django_user_model):
    from playwright.sync_api import expect

    django_user_model.objects.create_superuser("root", "root@example.com", "pw-root-123")
    devices = [*DeviceFactory.create_batch(4), *WebPushDeviceFactory.create_batch(2)]
    ids = sorted(d.pk for d in devices)
    n = dispatch.create(audience={"devices": ids}, title="Big send")
    from django.utils import timezone

    Notification.objects.filter(pk=n.pk).update(status="sending", targeted=6, planned_at=timezone.now())
    recording.create_deliveries(n.pk, ids, timezone.now())

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = login(context, live_server)
    polls = Polls(page)
    page.goto(f"{live_server.url}/admin/django_push/notification/{n.pk}/change/")
    page.evaluate("window.__samePage = true")
    bar = page.locator("#push-progress .dp-progress")
    expect(bar).to_have_attribute("aria-valuenow", "0")
    expect(page.locator('#push-outcomes [data-status="pending"]').first).to_be_visible()
    page.screenshot(path=str(SHOTS / "console-2-send-0.png"), full_page=True)

    # Step 1: the worker sends one chunk (three devices) while the page's polls wait.
    polls.hold()
    dispatch.process_chunk(n.pk, ids[:3])
    polls.release()
    expect(bar).to_have_attribute("aria-valuenow", "50")
    expect(page.locator('#push-outcomes [data-status="sent"]').first).to_be_visible()
    expect(page.locator("#delivery-log-table .dp-status-sent")).to_have_count(3)
    page.screenshot(path=str(SHOTS / "console-3-send-50.png"), full_page=True)

    # Step 2: the rest.
    polls.hold()
    dispatch.process_chunk(n.pk, ids[3:])
    polls.release()
    expect(bar).to_have_attribute("aria-valuenow", "100")
    expect(page.locator('#push-progress [data-field="status_display"]')).to_have_text("done")
    expect(page.locator('#push-outcomes [data-status="pending"]')).to_have_count(0)
    expect(page.locator("#delivery-log-table .dp-status-sent")).to_have_count(6)
    counts = page.eval_on_selector_all(
        '#push-outcomes .dp-seg[data-status="sent"]', "els => els.map(e => Number(e.dataset.count))"
    )
    assert sorted(counts) == [2, 4]
    assert page.evaluate("window.__samePage === true"), "the chart must move by polling, not by reloading"
    page.screenshot(path=str(SHOTS / "console-4-send-100.png"), full_page=True)
    polls.hold()
    context.close()


def test_reach_follows_the_audience_and_the_preview_shows_looks(live_server, browser, django_user_model):
    from django.core.cache import cache
    from playwright.sync_api import expect

    cache.clear()  # reach counts are cached 30 s per audience: an earlier test's "news" must not show
    django_user_model.objects.create_superuser("root", "root@example.com", "pw-root-123")
    news = Topic.objects.create(name="news")
    for device in (*DeviceFactory.create_batch(2), WebPushDeviceFactory()):
        Subscription.objects.create(device=device, topic=news)
    bob = UserFactory(username="bob")
    DeviceFactory(owner=bob, platform="fcm")

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = login(context, live_server)
    page.goto(live_server.url + "/admin/django_push/notification/compose/")
    box = page.locator("#broadcast-live-reach")
    expect(box.locator("[data-reach-total]")).to_have_text("0 devices")
    page.select_option("#id_topics", ["news"])
    expect(box.locator("[data-reach-total]")).to_have_text("3 devices")
    expect(box.locator("[data-reach-sentence]")).to_have_text("subscribers of news")
    page.fill("#id_users", "bob")
    expect(box.locator("[data-reach-total]")).to_have_text("4 devices")
    expect(box.locator("[data-reach-sentence]")).to_have_text("subscribers of news or devices of bob")
    page.check('input[name="platforms"][value="apns"]')
    page.check('input[name="platforms"][value="webpush"]')
    expect(box.locator("[data-reach-total]")).to_have_text("3 devices")
    expect(box.locator("[data-reach-sentence]")).to_contain_text("— only Apple (APNs), Web Push")
    page.fill("#id_users", "nobody-like-this")
    expect(box).to_have_attribute("data-state", "error")
    expect(box.locator("[data-reach-sentence]")).to_contain_text("nobody-like-this")
    page.fill("#id_users", "bob")
    expect(box.locator("[data-reach-total]")).to_have_text("3 devices")
    page.screenshot(path=str(SHOTS / "console-5-compose-reach.png"), full_page=True)

    page.fill("#id_title", "A long headline that will not fit on one line of a phone")
    page.fill("#id_body", "Body text " * 25)
    page.click("input[name=_preview]")
    expect(page.locator('.dp-look[data-surface="android"]')).to_have_attribute("data-cut", "true")
    expect(page.locator('.dp-look[data-surface="ios"] .dp-look-title')).to_be_visible()
    page.screenshot(path=str(SHOTS / "console-6-preview-looks.png"), full_page=True)
    context.close()


def test_the_per_user_page_and_its_test_push(live_server, browser, django_user_model):
    from playwright.sync_api import expect

    django_user_model.objects.create_superuser("root", "root@example.com", "pw-root-123")
    alice = UserFactory(username="alice")
    phone = DeviceFactory(owner=alice, name="Alice's phone")
    WebPushDeviceFactory(owner=alice, name="Alice's browser")
    dispatch.send_message(PushMessage(title="Welcome"), [phone])

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = login(context, live_server)
    page.goto(f"{live_server.url}/admin/auth/user/{alice.pk}/change/")
    page.click("#django-push-user-link")
    expect(page.locator("#content h1")).to_have_text("Push for alice")
    expect(page.locator("#user-devices tbody tr")).to_have_count(2)
    expect(page.locator(f'#user-devices tr[data-device="{phone.pk}"]')).to_have_attribute("data-health", "ok")
    expect(page.locator("#user-deliveries tbody tr")).to_have_count(1)
    page.screenshot(path=str(SHOTS / "console-7-user-page.png"), full_page=True)
    page.fill("#id_title", "Hello from support")
    page.click('[data-push-button="test"]')
    expect(page.locator(".messagelist")).to_contain_text("Test push sent to 2 of 2 active devices.")
    expect(page.locator("#user-deliveries tbody tr")).to_have_count(3)
    expect(page.locator("#user-deliveries")).to_contain_text("Hello from support")
    page.screenshot(path=str(SHOTS / "console-8-user-test-push.png"), full_page=True)

    # The lists at 1280 px with the sidebar open: the progress bar fits beside the counters.
    page.goto(live_server.url + "/admin/django_push/notification/")
    fits = page.evaluate(
        """() => { const bar = document.querySelector('#result_list .dp-progress');
                   const box = document.querySelector('#changelist-form .results');
                   return bar && bar.getBoundingClientRect().right <= box.getBoundingClientRect().right; }"""
    )
    page.screenshot(path=str(SHOTS / "console-9-notification-list-1280.png"), full_page=False)
    assert fits, page.evaluate(
        """() => JSON.stringify({
              bar: document.querySelector('#result_list .dp-progress').getBoundingClientRect(),
              box: document.querySelector('#changelist-form .results').getBoundingClientRect()})"""
    )
    page.goto(live_server.url + "/admin/django_push/device/")
    health = page.locator("#result_list td.field-health_column").first
    assert (
        health.bounding_box()["x"] + health.bounding_box()["width"]
        <= page.locator("#changelist-form .results").bounding_box()["x"]
        + page.locator("#changelist-form .results").bounding_box()["width"]
    )
    page.screenshot(path=str(SHOTS / "console-9b-device-list-1280.png"), full_page=False)
    page.goto(live_server.url + "/admin/django_push/notification/")
    page.click("#django-push-dashboard")
    expect(page.locator('#dashboard-all svg[role="img"]')).to_have_attribute(
        "aria-label", "All platforms, last 30 days: 3 sent, 0 failed, 0 invalid tokens, 0 opened"
    )
    page.screenshot(path=str(SHOTS / "console-10-dashboard.png"), full_page=True)
    context.close()


def test_a_notification_held_for_quiet_hours_says_until_when(live_server, browser, django_user_model):
    from datetime import timedelta

    from django.utils import timezone
    from playwright.sync_api import expect

    django_user_model.objects.create_superuser("root", "root@example.com", "pw-root-123")
    devices = DeviceFactory.create_batch(2)
    until = timezone.now() + timedelta(hours=6)
    n = Notification.objects.create(
        title="Night news", status="sending", targeted=2, planned_at=timezone.now()
    )
    for device in devices:  # what the quiet-hours filter leaves: pending, unclaimed, due later
        Delivery.objects.create(
            notification=n, device=device, platform="apns", next_attempt_at=until, reason="quiet hours"
        )
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = login(context, live_server)
    page.goto(f"{live_server.url}/admin/django_push/notification/{n.pk}/change/")
    expect(page.locator("#push-progress .dp-progress-text")).to_contain_text("held until")
    expect(page.locator("[data-push-held]")).to_contain_text("2 deliveries held until")
    expect(page.locator("[data-push-held]")).to_contain_text("(quiet hours)")
    page.wait_for_timeout(1500)  # a poll later it still says so (not "0%")
    expect(page.locator("#push-progress .dp-progress-text")).to_contain_text("held until")
    page.screenshot(path=str(SHOTS / "console-11-held-until.png"), full_page=False)
    context.close()
