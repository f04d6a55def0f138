"""The shared backend contract over the three HTTP backends, each answering through a MockTransport
whose answer is scripted per target address."""

from __future__ import annotations

import json

import httpx
import pytest

pytest.importorskip("google.auth")  # the "fcm" extra (see tests/conftest.py)
pytest.importorskip("http_ece")  # the "webpush" extra (see tests/conftest.py)

from django_push.backends.apns import APNsBackend
from django_push.backends.apns_tokens import provider_tokens
from django_push.backends.fcm import FCMBackend
from django_push.backends.webpush import WebPushBackend
from django_push.message import PushMessage, Target
from django_push.results import DeliveryStatus

from .contract import ScriptableContract
from .fixtures import BROWSER, KEY_PEM, SERVICE_ACCOUNT, VAPID_PRIVATE, OAuth


class HTTPContract(ScriptableContract):
    """Scripted answers live on the test instance; ``answer(address)`` reads them per request."""

    # status -> (HTTP status, JSON body) in the service's own dialect
    dialect: dict[DeliveryStatus, tuple[int, dict | None]] = {}

    @property
    def scripted(self) -> dict[str, DeliveryStatus]:
        return self.__dict__.setdefault("_scripted", {})

    def script(self, target: Target, status: DeliveryStatus) -> None:
        self.scripted[target.address] = status

    def answer(self, address: str) -> httpx.Response | None:
        status = self.scripted.get(address)
        if status is None:
            return None
        code, body = self.dialect[status]
        return httpx.Response(code, json=body)

    def transport(self, address_of) -> httpx.MockTransport:
        def handler(request: httpx.Request) -> httpx.Response:
            return self.answer(address_of(request)) or self.ok(request)

        return httpx.MockTransport(handler)

    def ok(self, request: httpx.Request) -> httpx.Response:  # pragma: no cover - abstract
        raise NotImplementedError


class TestAPNsContract(HTTPContract):
    dialect = {
        DeliveryStatus.INVALID_TOKEN: (410, {"reason": "Unregistered", "timestamp": 1_700_000_000_000}),
        DeliveryStatus.UNAVAILABLE: (503, {"reason": "ServiceUnavailable"}),
        DeliveryStatus.THROTTLED: (429, {"reason": "TooManyRequests"}),
        DeliveryStatus.REJECTED: (400, {"reason": "BadExpirationDate"}),
    }

    @pytest.fixture(autouse=True)
    def _fresh_tokens(self):
        provider_tokens.clear()
        yield
        provider_tokens.clear()

    def ok(self, request):
        return httpx.Response(200, headers={"apns-id": "A"})

    def make_backend(self, **options):
        settings = {
            "team_id": "TEAM123456",
            "key_id": "KEY1234567",
            "key": KEY_PEM,
            "topic": "com.example.app",
        }
        transport = self.transport(lambda request: request.url.path.rsplit("/", 1)[-1])
        return APNsBackend(alias="apns", transport=transport, **settings, **options)


class TestFCMContract(HTTPContract):
    dialect = {
        DeliveryStatus.INVALID_TOKEN: (
            404,
            {
                "error": {
                    "code": 404,
                    "status": "NOT_FOUND",
                    "details": [
                        {
                            "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                            "errorCode": "UNREGISTERED",
                        }
                    ],
                }
            },
        ),
        DeliveryStatus.UNAVAILABLE: (503, {"error": {"code": 503, "status": "UNAVAILABLE"}}),
        DeliveryStatus.THROTTLED: (429, {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED"}}),
        DeliveryStatus.REJECTED: (400, {"error": {"code": 400, "status": "INVALID_ARGUMENT"}}),
    }

    def ok(self, request):
        return httpx.Response(200, json={"name": "projects/demo-project/messages/1"})

    def make_backend(self, **options):
        transport = self.transport(lambda request: json.loads(request.content)["message"]["token"])
        return FCMBackend(
            alias="fcm",
            project_id="demo-project",
            credentials=SERVICE_ACCOUNT,
            oauth_transport=httpx.MockTransport(OAuth()),
            transport=transport,
            **options,
        )


class TestWebPushContract(HTTPContract):
    dialect = {
        DeliveryStatus.INVALID_TOKEN: (410, None),
        DeliveryStatus.UNAVAILABLE: (503, None),
        DeliveryStatus.THROTTLED: (429, None),
        DeliveryStatus.REJECTED: (400, None),
    }

    def make_targets(self, n: int) -> list[Target]:
        return [
            Target(f"https://push.example.net/wp/{i}", p256dh=BROWSER.p256dh, auth=BROWSER.auth_b64, key=i)
            for i in range(n)
        ]

    def ok(self, request):
        return httpx.Response(201, headers={"location": "https://push.example.net/m/1"})

    def make_backend(self, **options):
        options.setdefault("transport", self.transport(lambda request: str(request.url)))
        return WebPushBackend(
            alias="webpush",
            vapid_private_key=VAPID_PRIVATE,
            vapid_subject="mailto:ops@example.com",
            allowed_hosts=["push.example.net"],
            **options,
        )

    def test_every_body_decrypts_for_its_subscription(self):
        bodies: list[bytes] = []

        def handler(request: httpx.Request) -> httpx.Response:
            bodies.append(request.content)
            return httpx.Response(201)

        backend = self.make_backend(transport=httpx.MockTransport(handler))
        assert all(r.ok for r in backend.send(PushMessage(title="contract"), self.make_targets(3)))
        assert [BROWSER.decrypt(b)["title"] for b in bodies] == ["contract"] * 3
