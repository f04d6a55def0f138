"""The broadcast composer end to end in Debian's Chromium, driven by Playwright.

A staff member logs in, composes a broadcast to a topic, previews it, confirms it and lands on the
notification's page at 100% (locmem backends, eager dispatch: the send runs inside the request). Then
a scheduled broadcast: its page shows it scheduled at 0% and polls the progress endpoint; the test
plays the beat scheduler (``dispatch.send_due``) and the page's own polling takes the bar to 100%.

The live server shares the test's in-memory SQLite connection, so the test thread never touches the
database while the server is answering: the page's progress polls are held at Playwright's router
while the test writes, and released afterwards. Screenshots of every step go to tests/screenshots/.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from django_push import dispatch, testing
from django_push.models import Notification, Subscription, Topic

from ..factories import DeviceFactory, WebPushDeviceFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
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
BAR = "#push-progress .dp-progress"


def test_compose_preview_confirm_and_watch_progress(live_server, django_user_model):
    from playwright.sync_api import expect, sync_playwright

    django_user_model.objects.create_superuser("root", "root@example.com", "pw-root-123")
    topic = Topic.objects.create(name="news", description="Headlines")
    audience = [
        *DeviceFactory.create_batch(3),
        DeviceFactory(platform="fcm"),
        *WebPushDeviceFactory.create_batch(2),
    ]
    for device in audience:
        Subscription.objects.create(device=device, topic=topic)
    outsider = DeviceFactory()
    SHOTS.mkdir(exist_ok=True)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(15000)

        def shot(name: str) -> None:
            page.screenshot(path=str(SHOTS / f"admin-{name}.png"), full_page=True)

        # Progress polls wait here whenever the test thread is about to use the database.
        held: list = []
        hold = [True]

        def on_progress(route) -> None:
            if hold[0]:
                held.append(route)
            else:
                route.continue_()

        page.route("**/progress/", on_progress)

        # 1. Log in; the notification list offers "Compose broadcast".
        page.goto(live_server.url + "/admin/login/?next=/admin/django_push/notification/")
        page.fill("#id_username", "root")
        page.fill("#id_password", "pw-root-123")
        page.click("input[type=submit]")
        compose = page.locator("#django-push-compose")
        expect(compose).to_have_text("Compose broadcast")
        shot("1-notification-list")

        # 2. Compose: message and a topic audience.
        compose.click()
        expect(page.locator("#content h1")).to_have_text("Compose broadcast")
        page.fill("#id_title", "Breaking news")
        page.fill("#id_body", "Something big just happened.")
        page.fill("#id_data", '{"article": 42}')
        page.select_option("#id_topics", ["news"])
        shot("2-compose")

        # 3. Preview: one payload per platform with its size against the limit, and the reach.
        page.click("input[name=_preview]")
        expect(page.locator("#content h1")).to_have_text("Preview broadcast")
        expect(page.locator("#broadcast-reach")).to_contain_text("6 devices")
        for platform, limit in (("apns", "4096"), ("fcm", "4096"), ("webpush", "3993")):
            section = page.locator(f'.dp-preview[data-platform="{platform}"]')
            assert section.get_attribute("data-limit") == limit
            assert 0 < int(section.get_attribute("data-size")) < int(limit)
            expect(section.locator("pre")).to_contain_text('"article": ')  # FCM data values are strings
        shot("3-preview")

        # 4. Confirm.
        page.click("input[name=_confirm]")
        expect(page.locator("#content h1")).to_have_text("Confirm broadcast")
        expect(page.locator("#broadcast-confirmation")).to_contain_text("will be sent now to 6 devices")
        shot("4-confirm")

        # 5. Send: the notification's page, at 100%, with the outcome chart and the delivery log.
        page.click("input[name=_send]")
        expect(page.locator(".messagelist")).to_contain_text("Sending “Breaking news” to 6 devices.")
        expect(page.locator(BAR)).to_have_attribute("aria-valuenow", "100")
        expect(page.locator('#push-progress [data-field="status_display"]')).to_have_text("done")
        expect(page.locator("#push-outcomes .dp-chart-row")).to_have_count(3)
        expect(page.locator("#delivery-log-table tbody tr")).to_have_count(6)
        shot("5-sent-100")
        # The page is final: nothing polls, so the database is the test's again.
        first = Notification.objects.get(title="Breaking news")
        assert (first.status, first.targeted, first.sent, first.audience) == (
            "done",
            6,
            6,
            {"topics": ["news"]},
        )
        assert sorted(e.target.address for e in testing.outbox) == sorted(d.address for d in audience)
        assert outsider.address not in {e.target.address for e in testing.outbox}
        assert held == []

        # 6. A scheduled broadcast: its page shows it waiting, and polls.
        page.goto(live_server.url + "/admin/django_push/notification/compose/")
        page.fill("#id_title", "Evening digest")
        page.fill("#id_body", "Your evening round-up.")
        page.select_option("#id_topics", ["news"])
        later = timezone.localtime(timezone.now() + timedelta(hours=1))
        page.fill("#id_scheduled_at", later.strftime("%Y-%m-%dT%H:%M"))
        page.click("input[name=_preview]")
        page.click("input[name=_confirm]")
        expect(page.locator("#broadcast-confirmation")).to_contain_text("will be sent at")
        shot("6-confirm-scheduled")
        page.click("input[name=_send]")
        expect(page.locator('#push-progress [data-field="status_display"]')).to_have_text("scheduled")
        expect(page.locator(BAR)).to_have_attribute("aria-valuenow", "0")
        expect(page.locator("[data-push-scheduled]")).to_be_visible()
        page.wait_for_function("document.querySelector('#push-progress').dataset.final === 'false'")
        page.evaluate("window.__samePage = true")
        page.wait_for_timeout(1500)  # at least one poll has been made (and is held)
        assert held, "the page did not poll its progress endpoint"
        shot("7-scheduled-0")

        # 7. Its time comes (the test plays beat), then the held polls go on and the bar fills.
        digest = Notification.objects.get(title="Evening digest")
        assert digest.status == "scheduled" and testing.outbox and len(testing.outbox) == 6
        Notification.objects.filter(pk=digest.pk).update(scheduled_at=timezone.now())
        assert dispatch.send_due() == 1
        hold[0] = False
        for route in held:
            route.continue_()
        expect(page.locator(BAR)).to_have_attribute("aria-valuenow", "100", timeout=15000)
        expect(page.locator('#push-progress [data-field="status_display"]')).to_have_text("done")
        expect(page.locator('#push-progress [data-field="sent"]')).to_have_text("6")
        expect(page.locator("[data-push-finished]")).to_be_visible()
        expect(page.locator("[data-push-scheduled]")).to_be_hidden()
        # The fill really spans the bar (its width animates): what the screenshot shows is 100%.
        page.wait_for_function(
            """() => { const bar = document.querySelector('#push-progress .dp-progress');
                       const fill = bar.querySelector('.dp-progress-fill');
                       return fill.getBoundingClientRect().width >= bar.clientWidth - 1; }"""
        )
        assert page.evaluate("window.__samePage === true"), "the bar must fill by polling, not by reloading"
        shot("8-scheduled-polled-100")

        # 8. Reloaded, the page shows the outcome chart and the masked delivery log.
        page.reload()
        expect(page.locator("#delivery-log-table tbody tr")).to_have_count(6)
        log_text = page.locator("#delivery-log-table").inner_text()
        shot("9-scheduled-detail")
        browser.close()

    for device in audience:
        assert device.masked_address in log_text and device.address not in log_text
    digest.refresh_from_db()
    assert (digest.status, digest.sent, digest.progress) == ("done", 6, 100)
    assert len(testing.outbox) == 12
