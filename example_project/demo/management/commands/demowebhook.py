"""One signed webhook delivery, end to end, verified by an independent implementation.

Starts a local HTTPS receiver (a self-signed certificate, 127.0.0.1) that checks each request with the
``standardwebhooks`` package, registers a site-wide endpoint for it, rotates its secret once (so the
delivery carries two signatures, and a receiver on either secret verifies), sends an
``invoice.paid`` notification through dispatch, and prints what the receiver saw and what the
delivery ledger recorded. ``pip install standardwebhooks`` first (it is in the ``test`` extra).
"""

from __future__ import annotations

import datetime
import http.server
import ipaddress
import json
import tempfile
import threading
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.test.utils import override_settings

from django_push.devices import webhooks
from django_push.dispatch import send_message
from django_push.message import PushMessage
from django_push.models import Delivery, WebhookEndpoint


def _certificate(directory: str) -> tuple[str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "demo webhook receiver")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = Path(directory, "cert.pem"), Path(directory, "key.pem")
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return str(cert_path), str(key_path)


class Command(BaseCommand):
    help = "Send one signed webhook to a local receiver that verifies it with standardwebhooks."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            from standardwebhooks.webhooks import Webhook, WebhookVerificationError
        except ImportError as exc:
            raise CommandError("pip install standardwebhooks (the receiver verifies with it)") from exc
        import ssl

        secrets: dict[str, str] = {}
        seen: list[dict[str, Any]] = []

        class Receiver(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                verified = {}
                for label, secret in secrets.items():
                    try:
                        Webhook(secret).verify(body, headers)
                        verified[label] = "verified"
                    except WebhookVerificationError as exc:
                        verified[label] = f"refused: {exc}"
                seen.append({"headers": headers, "body": body.decode(), "verified": verified})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        with tempfile.TemporaryDirectory() as directory:
            cert, key = _certificate(directory)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
            server = http.server.HTTPServer(("127.0.0.1", 0), Receiver)
            server.socket = context.wrap_socket(server.socket, server_side=True)
            port = server.server_address[1]
            threading.Thread(target=server.serve_forever, daemon=True).start()
            conf = dict(settings.DJANGO_PUSH)
            conf["BACKENDS"] = {
                **conf["BACKENDS"],
                "webhook": {
                    "BACKEND": "django_push.backends.webhooks.WebhookBackend",
                    "OPTIONS": {"verify": cert},
                },
            }
            conf["WEBHOOK_ALLOWED_PRIVATE_HOSTS"] = [f"127.0.0.1:{port}"]
            try:
                with override_settings(DJANGO_PUSH=conf):
                    self._send(port, secrets)
            finally:
                server.shutdown()
                server.server_close()
        for request in seen:
            self.stdout.write("receiver got:")
            for name in ("webhook-id", "webhook-timestamp", "webhook-signature"):
                self.stdout.write(f"  {name}: {request['headers'][name]}")
            self.stdout.write(f"  body: {request['body']}")
            for label, verdict in request["verified"].items():
                self.stdout.write(f"  standardwebhooks with the {label} secret: {verdict}")

    def _send(self, port: int, secrets: dict[str, str]) -> None:
        endpoint, old = webhooks.create_endpoint(
            url=f"https://127.0.0.1:{port}/hooks", description="demowebhook", event_types=["invoice.paid"]
        )
        try:
            new = webhooks.rotate_secret(endpoint)
            secrets.update(old=old, new=new)
            notification = send_message(
                PushMessage(
                    title="Invoice paid", body="Invoice 2026-0042: 120.00 EUR", data={"invoice": "2026-0042"}
                ),
                [endpoint.device],
                notification_type="invoice.paid",
            )
            delivery = Delivery.objects.get(notification=notification)
            self.stdout.write(
                f"notification {notification.pk}: {notification.status}, sent={notification.sent}; delivery "
                f"{delivery.status} after {delivery.attempts} attempt(s), message_id={delivery.message_id}"
            )
            self.stdout.write(
                "endpoint: " + json.dumps({"url": endpoint.url, "secret": endpoint.masked_secret})
            )
        finally:
            WebhookEndpoint.objects.filter(pk=endpoint.pk).delete()
            endpoint.device.delete()
