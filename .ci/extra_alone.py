"""Prove one extra alone: ``python .ci/extra_alone.py <extra>`` in a fresh virtualenv holding the
package with that extra and nothing else (``tox -e extra-<name>`` builds exactly that).

Each run first checks that no other extra is importable (so the proof is of that extra alone), then:

* apns, fcm, webpush: ``manage.py check`` is clean and a send through that backend reaches the local
  fake push service (bench/fakepush.py: TLS + HTTP/2) for live devices, and deactivates a dead one;
* fast: the same APNs send with ``h2_library="jh2"``;
* api: the registration endpoint answers 201 for a device and 400 with field errors for a bad one;
* celery: the tasks register on a Celery app, ``check`` is clean and ``setuppushschedules`` writes
  django-celery-beat's schedule.

Exits non-zero with the reason on any failure.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)  # bench.fakepush, the fake push service

#: The module each extra brings (the core has PyJWT + cryptography, so apns brings nothing new).
EXTRA_MODULES = {
    "fcm": "google.auth",
    "webpush": "http_ece",
    "api": "rest_framework",
    "celery": "celery",
    "fast": "jh2",
}


def importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def fail(message: str) -> None:
    print(f"extra_alone: FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def configure(extra: str, push: dict) -> None:
    import django
    from django.conf import settings

    console = {"BACKEND": "django_push.backends.console.ConsoleBackend"}
    push = {"BACKENDS": {"apns": console, "fcm": console, "webpush": console}, **push}

    apps = ["django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions"]
    if extra == "api":
        apps.append("rest_framework")
    if extra == "celery":
        apps.append("django_celery_beat")
    settings.configure(
        DEBUG=False,
        SECRET_KEY="extra-alone",
        ALLOWED_HOSTS=["testserver"],
        INSTALLED_APPS=[*apps, "django_push"],
        MIDDLEWARE=[
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
        ],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        ROOT_URLCONF=__name__,
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        DJANGO_PUSH=push,
    )
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    call_command("check", fail_level="WARNING")


urlpatterns: list = []


def send_through_fake(extra: str) -> None:
    from bench.fakepush import FakePushService
    from bench.run import credentials, push_settings

    platform = {"fast": "apns"}.get(extra, extra)
    with tempfile.TemporaryDirectory() as workdir, FakePushService(latency=0.01) as service:
        creds = credentials(workdir)
        every = push_settings(service.url, service.ca_file, creds)
        backend = every["BACKENDS"][platform]
        if extra == "fast":
            backend["OPTIONS"]["h2_library"] = "jh2"
        # The site uses this one service; the others print to the console (no extra needed).
        console = {"BACKEND": "django_push.backends.console.ConsoleBackend"}
        backends = {name: console for name in every["BACKENDS"]}
        configure(extra, {**every, "BACKENDS": {**backends, platform: backend}})

        from django_push import dispatch
        from django_push.message import PushMessage
        from django_push.models import Device

        if platform == "apns":
            live, dead = [f"{i:064x}" for i in range(1, 4)], "dead" + "0" * 60
        elif platform == "fcm":
            live, dead = [f"fcm-token-{i}" for i in range(1, 4)], "dead-fcm-token"
        else:
            live, dead = [f"{service.url}/wp/s{i}" for i in range(1, 4)], f"{service.url}/wp/dead1"
        keys = {"p256dh": creds["p256dh"], "auth": creds["auth"]} if platform == "webpush" else {}
        devices = [Device.objects.create(platform=platform, address=a, **keys) for a in [*live, dead]]
        notification = dispatch.send_message(PushMessage(title="Hello", body="from one extra"), devices)
        notification.refresh_from_db()
        accepted = {
            a: service.accepted.get(a if platform != "webpush" else a.rsplit("/", 1)[1], 0) for a in live
        }
        if (notification.sent, notification.invalid, notification.status) != (3, 1, "done"):
            fail(f"{platform}: sent={notification.sent} invalid={notification.invalid} {notification.status}")
        if not all(accepted.values()):
            fail(f"{platform}: the fake service did not receive every push: {accepted}")
        if Device.objects.get(address=dead).active:
            fail(f"{platform}: the unregistered device stayed active")
        print(f"extra_alone[{extra}]: 3 pushes accepted by the fake {platform} service, 1 dead token off")


def register_through_api() -> None:
    from django.urls import include, path

    configure("api", {})
    urlpatterns.append(path("api/push/", include("django_push.api.urls")))
    from django.contrib.auth import get_user_model
    from django.test import Client

    user = get_user_model().objects.create_user("alice", password="pw")
    client = Client()
    client.force_login(user)
    good = client.post(
        "/api/push/devices/",
        {"platform": "fcm", "token": "a" * 152, "name": "Pixel"},
        content_type="application/json",
    )
    if good.status_code != 201:
        fail(f"api: registering a device answered {good.status_code}: {good.content[:300]!r}")
    bad = client.post("/api/push/devices/", {"platform": "nope"}, content_type="application/json")
    if bad.status_code != 400 or "platform" not in bad.json():
        fail(f"api: a bad registration answered {bad.status_code}: {bad.content[:300]!r}")
    print("extra_alone[api]: 201 for a device, 400 naming the bad field")


def schedule_with_celery() -> None:
    from celery import Celery

    app = Celery("extra_alone", broker="memory://", set_as_current=True)
    configure("celery", {"USE_CELERY": True})
    app.autodiscover_tasks(["django_push"], force=True)
    import django_push.tasks  # noqa: F401  (registers the shared tasks on the current app)

    names = {name for name in app.tasks if name.startswith("django_push.")}
    if not names:
        fail("celery: no django_push task registered")
    from django.core.management import call_command
    from django_celery_beat.models import PeriodicTask

    call_command("setuppushschedules", verbosity=0)
    scheduled = set(PeriodicTask.objects.values_list("task", flat=True))
    if not scheduled & names:
        fail(f"celery: setuppushschedules wrote {scheduled}, none of the tasks {names}")
    print(f"extra_alone[celery]: {len(names)} tasks registered, {len(scheduled)} periodic tasks scheduled")


def main() -> None:
    extra = sys.argv[1].removeprefix("extra-") if len(sys.argv) == 2 else ""  # tox passes its env name
    if extra not in {"apns", *EXTRA_MODULES}:
        fail(f"usage: extra_alone.py {{{','.join(['apns', *EXTRA_MODULES])}}}")
    others = [m for name, m in EXTRA_MODULES.items() if name != extra and importable(m)]
    if others:
        fail(f"[{extra}] must be alone, but {', '.join(others)} is importable: use a fresh virtualenv")
    if extra != "apns" and not importable(EXTRA_MODULES[extra]):
        fail(f"[{extra}] is not installed ({EXTRA_MODULES[extra]} is missing)")
    if extra == "api":
        register_through_api()
    elif extra == "celery":
        schedule_with_celery()
    else:
        send_through_fake(extra)


if __name__ == "__main__":
    main()
