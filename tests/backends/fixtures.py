"""Credentials and fakes shared by the backend tests and the command tests: made once, here."""

from __future__ import annotations

import base64
import json
import os

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from django_push.message import Target

WEBPUSH_ENDPOINT = "https://updates.push.services.mozilla.com/wpush/v2/gAAAAABk"


def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_point(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


# -- APNs ------------------------------------------------------------------------------------------
SIGNING_KEY = ec_key()
KEY_PEM = pem(SIGNING_KEY)

# -- FCM -------------------------------------------------------------------------------------------
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
SERVICE_ACCOUNT = {
    "type": "service_account",
    "project_id": "demo-project",
    "private_key_id": "kid-1",
    "private_key": RSA_KEY.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode(),
    "client_email": "push@demo-project.iam.gserviceaccount.com",
    "client_id": "1",
    "token_uri": "https://oauth2.googleapis.com/token",
}


class OAuth:
    """A fake Google token endpoint (sync: google-auth refreshes through a sync adapter)."""

    def __init__(self, status: int = 200, body: dict | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.status, self.body = status, body

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.status != 200:
            return httpx.Response(self.status, json=self.body or {})
        n = len(self.requests)
        return httpx.Response(
            200, json={"access_token": f"tok-{n}", "expires_in": 3600, "token_type": "Bearer"}
        )


# -- Web Push --------------------------------------------------------------------------------------
class Browser:
    """A subscription's key pair and auth secret, as a browser creates them."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)
        self.p256dh = b64(public_point(self.key))
        self.auth_b64 = b64(self.auth)

    def target(self, endpoint: str = WEBPUSH_ENDPOINT) -> Target:
        return Target(endpoint, p256dh=self.p256dh, auth=self.auth_b64)

    def decrypt(self, body: bytes) -> dict:
        import http_ece  # the "webpush" extra: only tests of that backend decrypt

        plaintext = http_ece.decrypt(body, private_key=self.key, auth_secret=self.auth, version="aes128gcm")
        return json.loads(plaintext)


VAPID_KEY = ec_key()
VAPID_PRIVATE = b64(VAPID_KEY.private_numbers().private_value.to_bytes(32, "big"))
VAPID_PUBLIC = b64(public_point(VAPID_KEY))
BROWSER = Browser()
