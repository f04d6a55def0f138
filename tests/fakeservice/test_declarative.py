"""Declarative Web Push through the whole pipeline, against the fake push service over TLS + HTTP/2.

The fake plays the browser for ``decl…`` subscriptions (bench/fakepush_dwp.py): it decrypts each push
with the subscription's key and checks, independently of our builder, that it is a declarative push
message; anything else is answered 400, which dispatch records as REJECTED.
"""

from __future__ import annotations

import copy
import tempfile

import pytest
from django.test import override_settings

pytest.importorskip("http_ece")  # the "webpush" extra

from bench.fakepush import FakePushService
from bench.fakepush_dwp import DECLARATIVE_AUTH, DECLARATIVE_P256DH, declarative_seen
from bench.run import credentials
from bench.run import push_settings as bench_push_settings
from django_push import dispatch
from django_push.message import PushMessage
from django_push.models import Delivery, Device, PushManagerKind, address_hash

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def creds():
    with tempfile.TemporaryDirectory() as workdir:
        return credentials(workdir)


def settings_for(service: FakePushService, creds: dict, **webpush_options) -> dict:
    push = copy.deepcopy(bench_push_settings(service.url, service.ca_file, creds))
    push["BACKENDS"]["webpush"]["OPTIONS"].update(webpush_options)
    return {**push, "USE_CELERY": False}


def webpush_device(url: str, sub: str, manager: str, keys: dict) -> Device:
    address = f"{url}/wp/{sub}"
    return Device.objects.create(
        platform="webpush", address=address, address_hash=address_hash(address), push_manager=manager, **keys
    )


def deliveries(notification) -> dict[str, tuple[str, str, str]]:
    rows = Delivery.objects.filter(notification=notification).select_related("device")
    return {d.device.address.rsplit("/", 1)[-1]: (d.status, d.error_code, d.reason) for d in rows}


def test_auto_sends_declarative_to_window_subscriptions_and_classic_to_the_rest(creds):
    declarative_keys = {"p256dh": DECLARATIVE_P256DH, "auth": DECLARATIVE_AUTH}
    with FakePushService(latency=0.01) as service:
        options = {"payload_format": "auto", "declarative_base_url": "https://scores.example"}
        with override_settings(DJANGO_PUSH=settings_for(service, creds, **options)):
            webpush_device(service.url, "decl-safari", PushManagerKind.WINDOW, declarative_keys)
            webpush_device(
                service.url,
                "s-chrome",
                PushManagerKind.SERVICE_WORKER,
                {"p256dh": creds["p256dh"], "auth": creds["auth"]},
            )
            message = PushMessage(title="Goal!", body="2-1", url="/match/7", badge=2, collapse_key="m7")
            notification = dispatch.send_message(message, Device.objects.all())
        seen = declarative_seen(service.stats)
        accepted = dict(service.accepted)
    assert {k: v[0] for k, v in deliveries(notification).items()} == {
        "decl-safari": "sent",
        "s-chrome": "sent",
    }
    assert accepted == {"decl-safari": 1, "s-chrome": 1}
    (payload,) = seen["decl-safari"]
    assert payload["notification"]["navigate"] == "https://scores.example/match/7"
    assert (payload["notification"]["title"], payload["notification"]["tag"], payload["app_badge"]) == (
        "Goal!",
        "m7",
        2,
    )


def test_the_fake_refuses_a_classic_payload_to_a_declarative_only_browser(creds):
    keys = {"p256dh": DECLARATIVE_P256DH, "auth": DECLARATIVE_AUTH}
    with (
        FakePushService() as service,
        override_settings(DJANGO_PUSH=settings_for(service, creds, payload_format="classic")),
    ):
        webpush_device(service.url, "decl-safari", PushManagerKind.WINDOW, keys)
        notification = dispatch.send_message(PushMessage(title="T", url="/x"), Device.objects.all())
    status, code, reason = deliveries(notification)["decl-safari"]
    assert (status, code) == ("rejected", "400") and "web_push must be 8030" in reason


def test_declarative_mode_refuses_a_message_without_url_before_sending(creds):
    keys = {"p256dh": DECLARATIVE_P256DH, "auth": DECLARATIVE_AUTH}
    with FakePushService() as service:
        with override_settings(DJANGO_PUSH=settings_for(service, creds, payload_format="declarative")):
            webpush_device(service.url, "decl-safari", PushManagerKind.WINDOW, keys)
            notification = dispatch.send_message(PushMessage(title="No link"), Device.objects.all())
        requests = service.requests_total
    status, code, reason = deliveries(notification)["decl-safari"]
    assert (status, code) == ("rejected", "declarative_needs_url") and "navigate" in reason
    assert requests == 0
