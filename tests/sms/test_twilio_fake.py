"""SMS through dispatch against a local fake of Twilio's Messages API (http.server in a thread):
the ledger records the answers, an invalid number deactivates that address, 429 is retried."""

from __future__ import annotations

import base64
import http.server
import json
import threading
from collections import deque
from urllib.parse import parse_qs

import pytest

from django_push.dispatch import send_message
from django_push.message import PushMessage
from django_push.models import Delivery, Device
from django_push.results import DeliveryStatus

from ..factories import DeviceFactory

pytestmark = pytest.mark.django_db(transaction=True)
SID, TOKEN = "AC" + "f" * 32, "fake-auth-token"
INVALID = "+15005550001"  # Twilio's magic "invalid number"


class FakeTwilio(http.server.BaseHTTPRequestHandler):
    received: list[dict[str, str]]
    script: deque[tuple[int, dict]]

    def do_POST(self) -> None:  # the Messages API, with Twilio's answers
        form = {
            k: v[0]
            for k, v in parse_qs(self.rfile.read(int(self.headers["content-length"])).decode()).items()
        }
        expected = "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
        if (
            self.path != f"/2010-04-01/Accounts/{SID}/Messages.json"
            or self.headers["authorization"] != expected
        ):
            status, body = 401, {"code": 20003, "message": "Authenticate"}
        elif self.script:
            status, body = self.script.popleft()
        elif form["To"] == INVALID:
            status, body = 400, {"code": 21211, "message": "The 'To' number is not a valid phone number."}
        else:
            status, body = 201, {"sid": f"SM{len(self.received):032d}", "status": "queued"}
        self.received.append(form)
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        if status == 429:
            self.send_header("retry-after", "0")
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def twilio(settings):
    handler = type("Handler", (FakeTwilio,), {"received": [], "script": deque()})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    options = {
        "account_sid": SID,
        "auth_token": TOKEN,
        "from_number": "+15005550006",
        "base_url": f"http://127.0.0.1:{server.server_address[1]}",
    }
    settings.DJANGO_PUSH = {
        **settings.DJANGO_PUSH,
        "BACKENDS": {
            **settings.DJANGO_PUSH["BACKENDS"],
            "sms": {"BACKEND": "django_push.backends.twilio.TwilioSMSBackend", "OPTIONS": options},
        },
    }
    yield handler
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_sent_and_invalid_numbers_are_recorded_and_the_invalid_one_deactivated(twilio):
    good = DeviceFactory(platform="sms", address="+33612345678")
    bad = DeviceFactory(platform="sms", address=INVALID)
    notification = send_message(PushMessage(title="Sign-in", body="New sign-in from Paris"), [good, bad])
    assert (notification.sent, notification.invalid, notification.status) == (1, 1, "done")
    assert {f["To"]: f["Body"] for f in twilio.received} == {
        "+33612345678": "Sign-in\nNew sign-in from Paris",
        INVALID: "Sign-in\nNew sign-in from Paris",
    }
    assert Delivery.objects.get(device=good).message_id.startswith("SM")
    bad.refresh_from_db()
    assert not bad.active and "21211" in bad.deactivation_reason
    assert Device.objects.get(pk=good.pk).active


def test_throttled_then_sent(twilio):
    twilio.script.append((429, {"code": 20429, "message": "Too Many Requests"}))
    device = DeviceFactory(platform="sms", address="+33612345678")
    notification = send_message(PushMessage(body="code 123456"), [device])
    delivery = Delivery.objects.get(notification=notification)
    assert (delivery.status, delivery.attempts, len(twilio.received)) == (DeliveryStatus.SENT, 2, 2)
