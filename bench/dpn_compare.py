"""django-push-notifications (DPN, from PyPI) against the local fake push service, for comparison.

Run it with the separate virtualenv that has DPN 3.3.0, aioapns, firebase-admin and pywebpush
(``bench/run.py --dpn`` creates it and runs this script for every latency and service)::

    bench/.venv-dpn/bin/python bench/dpn_compare.py --service apns --devices 10000 \
        --url https://127.0.0.1:18600 --ca-file /tmp/fp.pem

It configures a minimal Django project in-process (SQLite file in a temp dir), creates N devices
of one service, sends one message to all of them the way a DPN user would
(``APNSDevice.objects.all().send_message("hello")`` and so on) and prints one JSON line.
"delivered" is what the fake service accepted during the send, not what DPN reports.

DPN's installed files are not edited; this script points the libraries at the fake service at
runtime and otherwise keeps DPN's defaults (timeouts, pool sizes, retries):

* APNs (aioapns): the protocol classes' ``APNS_SERVER``/``APNS_PORT`` point at the fake, and
  ``push_notifications.apns_async.APNs`` gets an ``ssl_context`` that trusts the fake's CA and
  offers ALPN ``h2`` (aioapns offers no ALPN; Apple accepts that, the fake speaks HTTP/1.1 without
  it). ``APNS_AUTH_KEY_PATH`` must hold the key's PEM *text*: aioapns 4 hands the value straight
  to PyJWT, so a path fails every push.
* FCM (firebase-admin): ``messaging._MessagingService.FCM_URL`` points at the fake, the
  service-account ``token_uri`` at the fake's ``/token``, ``REQUESTS_CA_BUNDLE`` trusts the CA.
  ``FCM_MAX_RECIPIENTS`` is set to 500: DPN's default of 1000 makes firebase-admin's
  ``send_each`` raise ``ValueError`` for any audience above 500 (``--fcm-max-recipients 0`` keeps
  the default, to show that).
* Web Push (pywebpush): the endpoints are the devices' registration ids; ``REQUESTS_CA_BUNDLE``.

"http11_answer_ms" is how long the fake took to answer an HTTP/1.1 request just before the send:
FCM and Web Push go through requests (HTTP/1.1), so if it is well under the fake's configured
latency, those DPN rates were measured against a faster service than ours (HTTP/2) were.
"""

from __future__ import annotations

import argparse
import base64
import collections
import json
import os
import ssl
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from typing import Any

VAPID_SUBJECT = "mailto:bench@example.com"


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def pem(key: Any) -> str:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def fake_stats(url: str, ca_file: str) -> dict:
    ctx = ssl.create_default_context(cafile=ca_file)
    with urllib.request.urlopen(url + "/_stats", context=ctx) as response:
        return json.loads(response.read())


def http11_answer_ms(url: str, ca_file: str) -> float:
    """Median time the fake takes to answer over HTTP/1.1, the protocol requests speaks.

    firebase-admin and pywebpush send with requests (HTTP/1.1), so this is the service latency
    DPN's FCM and Web Push pushes actually meet; compare it with the latency the fake was given.
    """
    import http.client

    parsed = urllib.parse.urlsplit(url)
    conn = http.client.HTTPSConnection(
        parsed.hostname, parsed.port or 443, context=ssl.create_default_context(cafile=ca_file)
    )
    times = []
    try:
        for _ in range(5):
            start = time.perf_counter()
            conn.request("GET", "/_stats")
            conn.getresponse().read()
            times.append(time.perf_counter() - start)
    finally:
        conn.close()
    return round(1000 * sorted(times)[len(times) // 2], 1)


def configure_django(service: str, url: str, fcm_max_recipients: int, workdir: str) -> dict:
    """settings.configure + migrate; returns the DPN settings changed from their defaults."""
    import django
    from cryptography.hazmat.primitives.asymmetric import ec
    from django.conf import settings

    push: dict[str, Any] = {}
    changed: dict[str, Any] = {}
    if service == "apns":
        push.update(
            # aioapns 4 passes this value to jwt.encode() as the key itself, despite the name.
            APNS_AUTH_KEY_PATH=pem(ec.generate_private_key(ec.SECP256R1())),
            APNS_AUTH_KEY_ID="KEY1234567",
            APNS_TEAM_ID="TEAM123456",
            APNS_TOPIC="com.example.app",
        )
        changed["APNS_AUTH_KEY_PATH"] = "PEM text, not a path (aioapns 4 needs the key itself)"
    elif service == "fcm":
        if fcm_max_recipients:
            push["FCM_MAX_RECIPIENTS"] = fcm_max_recipients
            changed["FCM_MAX_RECIPIENTS"] = fcm_max_recipients
    elif service == "webpush":
        raw = ec.generate_private_key(ec.SECP256R1()).private_numbers().private_value.to_bytes(32, "big")
        push.update(WP_PRIVATE_KEY=b64(raw), WP_CLAIMS={"sub": VAPID_SUBJECT})
    settings.configure(
        DEBUG=False,
        SECRET_KEY="dpn-compare",
        USE_TZ=True,
        DATABASES={
            "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.path.join(workdir, "dpn.sqlite3")}
        },
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "push_notifications"],
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        PUSH_NOTIFICATIONS_SETTINGS=push,
    )
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    return changed


def point_apns_at(url: str, ca_file: str) -> None:
    import functools

    import aioapns
    from aioapns import connection
    from push_notifications import apns_async

    parsed = urllib.parse.urlsplit(url)
    for cls in (connection.APNsProductionClientProtocol, connection.APNsDevelopmentClientProtocol):
        cls.APNS_SERVER = parsed.hostname
        cls.APNS_PORT = parsed.port or 443
    ctx = ssl.create_default_context(cafile=ca_file)
    ctx.set_alpn_protocols(["h2"])
    apns_async.APNs = functools.partial(aioapns.APNs, ssl_context=ctx)


def point_fcm_at(url: str) -> None:
    import firebase_admin
    from cryptography.hazmat.primitives.asymmetric import rsa
    from firebase_admin import credentials, messaging

    messaging._MessagingService.FCM_URL = url + "/v1/projects/{0}/messages:send"
    firebase_admin.initialize_app(
        credentials.Certificate(
            {
                "type": "service_account",
                "project_id": "bench",
                "private_key_id": "k1",
                "private_key": pem(rsa.generate_private_key(65537, 2048)),
                "client_email": "bench@bench.iam.gserviceaccount.com",
                "client_id": "1",
                "token_uri": url + "/token",
            }
        )
    )


def create_devices(service: str, n: int, url: str) -> Any:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from push_notifications.models import APNSDevice, GCMDevice, WebPushDevice

    if service == "apns":
        model, rows = APNSDevice, [APNSDevice(registration_id=f"{i:064x}") for i in range(1, n + 1)]
    elif service == "fcm":
        model = GCMDevice
        rows = [
            GCMDevice(registration_id=f"fcm-token-{i}", cloud_message_type="FCM") for i in range(1, n + 1)
        ]
    else:
        browser = ec.generate_private_key(ec.SECP256R1()).public_key()
        p256dh = b64(
            browser.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        )
        auth = b64(os.urandom(16))
        model = WebPushDevice
        rows = [
            WebPushDevice(registration_id=f"{url}/wp/s{i}", p256dh=p256dh, auth=auth, browser="CHROME")
            for i in range(1, n + 1)
        ]
    model.objects.bulk_create(rows, batch_size=1000)
    return model


def short(text: str, limit: int = 100) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def summarise(service: str, result: Any, exc: BaseException | None, devices: int) -> tuple[int, dict]:
    """(pushes DPN reported as sent, {short error: count}) from send_message's result or exception."""
    errors: collections.Counter[str] = collections.Counter()
    ok = 0
    if exc is not None:
        name = type(exc).__name__
        message = str(exc)
        if service == "apns" and "failed with errors: " in message:
            # APNSError lists every failed push: "One or more errors failed with errors: a, b, …"
            parts = message.split("failed with errors: ", 1)[1].split(", ")
            errors.update(f"{name}: {short(p, 60)}" for p in parts)
            ok = devices - len(parts)
        else:
            errors[f"{name}: {short(message)}"] += 1
    elif service == "apns":
        for item in result:
            ok += sum(1 for v in item.values() if v == "Success")
    elif service == "fcm":
        ok = result.success_count
        for response in result.responses:
            if response.exception is not None:
                errors[f"{type(response.exception).__name__}: {short(response.exception, 60)}"] += 1
    else:
        for item in result:
            if item.get("success"):
                ok += 1
            else:
                errors[f"failure: {short(item['results'][0].get('error', ''), 60)}"] += 1
    return ok, dict(errors.most_common(8))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--service", choices=["apns", "fcm", "webpush"], required=True)
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--url", required=True, help="the fake push service, e.g. https://127.0.0.1:18600")
    parser.add_argument("--ca-file", required=True, help="PEM the fake service's certificate is in")
    parser.add_argument(
        "--fcm-max-recipients",
        type=int,
        default=500,
        help="FCM_MAX_RECIPIENTS; 0 keeps DPN's default (1000), which fails above 500 devices",
    )
    args = parser.parse_args()
    url = args.url.rstrip("/")

    # requests (firebase-admin, google-auth, pywebpush) and OpenSSL defaults trust the fake's CA.
    os.environ["REQUESTS_CA_BUNDLE"] = args.ca_file
    os.environ["SSL_CERT_FILE"] = args.ca_file

    workdir = tempfile.mkdtemp(prefix="dpn-compare-")
    changed = configure_django(args.service, url, args.fcm_max_recipients, workdir)
    if args.service == "apns":
        point_apns_at(url, args.ca_file)
    elif args.service == "fcm":
        point_fcm_at(url)
    model = create_devices(args.service, args.devices, url)

    h1_ms = http11_answer_ms(url, args.ca_file)
    before = fake_stats(url, args.ca_file)["accepted_total"]
    result: Any = None
    exc: BaseException | None = None
    start, cpu = time.perf_counter(), time.process_time()
    try:
        result = model.objects.all().send_message("hello")
    except Exception as e:  # DPN raises for partial failures (APNSError) and aborts (WebPushError)
        exc = e
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    time.sleep(0.3)  # let answers already on their way be counted
    delivered = fake_stats(url, args.ca_file)["accepted_total"] - before
    ok, errors = summarise(args.service, result, exc, args.devices)
    print(
        json.dumps(
            {
                "service": args.service,
                "devices": args.devices,
                "wall_s": round(wall, 2),
                "per_second": round(delivered / wall, 1) if wall else 0.0,
                "delivered": delivered,
                "lost": args.devices - delivered,
                "dpn_reported_ok": ok,
                "errors": errors,
                "cpu_s_per_1000": round(1000 * cpu / max(1, delivered), 3),
                "settings_changed": changed,
                "http11_answer_ms": h1_ms,
                "dpn_version": _version("django-push-notifications"),
            }
        ),
        flush=True,
    )


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "?"


if __name__ == "__main__":
    sys.exit(main())
