"""The notification page follows a send made by a real Celery worker (issue 17): the progress bar,
the outcome chart and the delivery log move by polling while the worker sends 3,000 APNs pushes to
the local fake service over TLS + HTTP/2, with no reload, until the page says done."""

from __future__ import annotations

import json
import time

import pytest

from bench.fakepush import FakePushService
from django_push.models import Notification

from ..e2e.test_admin_console import SHOTS, browser, login  # noqa: F401  (browser is a fixture)
from .test_fake_service_broadcast import apns_settings, broadcast, make_devices
from .test_worker import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sent_in_chart(page) -> int:
    counts = page.eval_on_selector_all(
        '#push-outcomes .dp-seg[data-status="sent"]', "els => els.map(e => Number(e.dataset.count))"
    )
    return sum(counts)


def test_the_chart_moves_while_a_real_worker_sends(live_server, browser, worker_factory, settings):  # noqa: F811
    from django.contrib.auth import get_user_model
    from playwright.sync_api import expect

    get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-123")
    # 0.5 s per answer and chunks of 100 on one worker process: the send lasts several polls.
    with FakePushService(latency=0.5) as service:
        push = apns_settings(service, CHUNK_SIZE=100)
        push.pop("MAX_ATTEMPTS")
        settings.DJANGO_PUSH = push
        worker_factory(extra_env={"DJANGO_PUSH_TEST_SETTINGS_JSON": json.dumps(push)}, concurrency=1).start()
        make_devices(3000)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = login(context, live_server)
        n = broadcast()
        page.goto(f"{live_server.url}/admin/django_push/notification/{n.pk}/change/")
        page.evaluate("window.__samePage = true")
        bar = page.locator("#push-progress .dp-progress")

        # Samples of what the page shows, taken while the worker sends (the page polls every second).
        samples: list[tuple[int, int, int]] = []
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            shown = int(bar.get_attribute("aria-valuenow") or 0)
            rows = page.locator("#delivery-log-table .dp-status-sent").count()
            samples.append((shown, sent_in_chart(page), rows))
            if shown == 100:
                break
            time.sleep(0.5)
        page.screenshot(path=str(SHOTS / "console-12-real-worker-done.png"), full_page=True)
        n = wait_for(lambda: Notification.objects.filter(pk=n.pk, status="done").first(), timeout=60)

    moving = [s for s in samples if 0 < s[0] < 100]
    assert len({s[0] for s in moving}) >= 2, f"the bar did not move by polling: {samples}"
    charted = [s[1] for s in moving]
    assert charted == sorted(charted) and charted[-1] > charted[0], f"the chart did not move: {samples}"
    assert any(s[2] > 0 for s in moving), f"the delivery log stayed empty mid-send: {samples}"
    expect(page.locator('#push-progress [data-field="status_display"]')).to_have_text("done")
    assert sent_in_chart(page) == n.sent == 3000
    assert page.evaluate("window.__samePage === true"), "the page moved by polling, not by reloading"
    context.close()
