"""Optional dependencies: the core works without them, and a configured feature that needs a missing one
is named, with its pip command, by a system check (and never raises ImportError at send time).

An extra is made "missing" by putting None in sys.modules for its modules (so importing them fails
exactly as when they are not installed); in the bare run (DJANGO_PUSH_TEST_BARE=1) they are missing
for real, and these tests pass the same way.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import pytest
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command

from django_push import dispatch, extras, testing
from django_push.dispatch import jobs
from django_push.handler import backends
from django_push.message import PushMessage
from django_push.models import Delivery

from .factories import DeviceFactory

FCM = {
    "BACKEND": "django_push.backends.fcm.FCMBackend",
    "OPTIONS": {"project_id": "demo", "credentials": {"type": "service_account"}},
}
WEBPUSH = {
    "BACKEND": "django_push.backends.webpush.WebPushBackend",
    "OPTIONS": {"vapid_private_key": "x", "vapid_subject": "mailto:ops@example.com"},
}
LOCMEM = {"BACKEND": "django_push.backends.locmem.LocmemBackend"}


@pytest.fixture
def without(monkeypatch: pytest.MonkeyPatch):
    """``without("fcm")``: the extra's modules cannot be imported for the rest of the test."""

    def hide(*names: str) -> None:
        for name in names:
            for module in extras.EXTRAS[name]:
                for loaded in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
                    monkeypatch.delitem(sys.modules, loaded)
                monkeypatch.setitem(sys.modules, module, None)
            assert extras.missing(name), name

    return hide


@pytest.fixture
def push(settings: Any):
    def set_(**values: Any) -> None:
        settings.DJANGO_PUSH = {**settings.DJANGO_PUSH, **values}

    return set_


def extra_errors() -> list[checks.CheckMessage]:
    return extras.check_extras()


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib is Python 3.11+")
def test_extras_map_matches_the_declared_extras():
    """pyproject's optional-dependencies and extras.EXTRAS name the same distributions."""
    from pathlib import Path

    import tomllib

    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]
    declared = project["optional-dependencies"]
    core = {d.split("[")[0].split(">")[0].split(";")[0].lower() for d in project["dependencies"]}
    for name, modules in extras.EXTRAS.items():
        wanted = {d.split("[")[0].split(">")[0].lower().replace("_", "-") for d in declared[name]}
        provided = {dist.lower().replace("_", "-") for dist in modules.values()}
        assert provided <= wanted | core, (name, provided, wanted)
    assert set(declared["all"][0].split("[")[1].rstrip("]").split(",")) == set(extras.EXTRAS)
    assert "pywebpush" not in str(declared) + str(project["dependencies"])  # never imported


def test_core_settings_need_no_extra(without):
    # `manage.py check` on the test settings (locmem backends, no broker, tests.urls mounts only the
    # admin): clean, and in the bare run with no extra installed at all.
    call_command("check", fail_level="ERROR")
    without("fcm", "webpush", "api", "celery", "fast")
    assert extra_errors() == []


@pytest.mark.parametrize(
    ("platform", "conf", "extra", "distributions"),
    [("fcm", FCM, "fcm", "google-auth"), ("webpush", WEBPUSH, "webpush", "http_ece, py-vapid")],
)
def test_a_configured_backend_without_its_extra_is_an_error(
    without, push, platform, conf, extra, distributions
):
    without(extra)
    push(BACKENDS={"apns": LOCMEM, "fcm": LOCMEM, "webpush": LOCMEM, platform: conf})
    [error] = extra_errors()
    assert error.id == "django_push.E022" and error.level == checks.ERROR
    assert f'DJANGO_PUSH["BACKENDS"]["{platform}"]' in error.msg
    assert f"{distributions} " in error.msg
    assert f'pip install "django-pushcast[{extra}]"' in error.msg + error.hint


def test_a_subclass_of_a_builtin_backend_needs_the_same_extra():
    from django_push.backends.fcm import FCMBackend
    from django_push.backends.locmem import LocmemBackend

    class MyFCM(FCMBackend):
        pass

    assert extras.extra_for_backend(MyFCM) == "fcm"
    assert extras.extra_for_backend(LocmemBackend) is None


def test_backend_extra_installed_is_no_error(push):
    pytest.importorskip("google.auth")  # the "fcm" extra (see tests/conftest.py)
    push(BACKENDS={"apns": LOCMEM, "fcm": FCM, "webpush": LOCMEM})
    assert extra_errors() == []


@pytest.mark.django_db(transaction=True)
def test_sending_to_a_backend_without_its_extra_records_a_configuration_failure(without, push):
    without("fcm")
    push(BACKENDS={"apns": LOCMEM, "fcm": FCM, "webpush": LOCMEM})
    backends.reset()
    android, iphone = DeviceFactory(platform="fcm", address="f" * 40), DeviceFactory()
    n = dispatch.send_message(PushMessage(title="Hi"), [android, iphone])  # no ImportError
    assert (n.sent, n.failed) == (1, 1)
    failed = Delivery.objects.get(notification=n, device=android)
    assert failed.status == "failed" and failed.error_code == "configuration"
    assert 'pip install "django-pushcast[fcm]"' in failed.reason
    assert [e.target.address for e in testing.outbox] == [iphone.address]


@pytest.mark.parametrize(
    ("use_celery", "broker", "expected"),
    [
        (True, "", ["django_push.E023"]),
        (None, "redis://x", ["django_push.E023"]),
        (False, "redis://x", []),
        (None, "", []),
    ],
)
def test_celery_configured_without_the_extra(without, push, settings, use_celery, broker, expected):
    without("celery")
    push(USE_CELERY=use_celery)
    settings.CELERY_BROKER_URL = broker
    errors = extra_errors()
    assert [e.id for e in errors] == expected
    if errors:
        assert 'pip install "django-pushcast[celery]"' in errors[0].msg


@pytest.mark.django_db(transaction=True)
def test_use_celery_without_celery_sends_in_process(without, push, caplog):
    without("celery")
    push(USE_CELERY=True)
    with caplog.at_level(logging.ERROR, logger="django_push.jobs"):
        assert jobs.use_celery() is False
        dispatch.notify(title="Hi", audience={"devices": [DeviceFactory().pk]})
    assert [e.message.title for e in testing.outbox] == ["Hi"]
    assert 'pip install "django-pushcast[celery]"' in caplog.text


def test_jh2_asked_for_but_missing_is_an_error(without, push):
    without("fast")
    push(
        BACKENDS={
            "apns": {"BACKEND": "django_push.backends.locmem.LocmemBackend", "OPTIONS": {"h2_library": "jh2"}}
        }
    )
    [error] = extra_errors()
    assert error.id == "django_push.E022" and error.level == checks.ERROR
    assert 'pip install "django-pushcast[fast]"' in error.hint


def test_the_api_without_drf_names_the_pip_command(without, monkeypatch):
    for loaded in [m for m in sys.modules if m == "django_push.api" or m.startswith("django_push.api.")]:
        monkeypatch.delitem(sys.modules, loaded)
    without("api")
    with pytest.raises(ImproperlyConfigured, match=r'pip install "django-pushcast\[api\]"'):
        import django_push.api.urls  # noqa: F401


def test_the_tasks_module_without_celery_names_the_pip_command(without, monkeypatch):
    monkeypatch.delitem(sys.modules, "django_push.tasks", raising=False)
    without("celery")
    with pytest.raises(ImproperlyConfigured, match=r'pip install "django-pushcast\[celery\]"'):
        import django_push.tasks  # noqa: F401


def test_setuppushschedules_without_beat_names_the_pip_command(without, monkeypatch):
    from django.apps import apps

    without("celery")
    real = apps.is_installed
    monkeypatch.setattr(apps, "is_installed", lambda name: name != "django_celery_beat" and real(name))
    with pytest.raises(CommandError, match=r'Run pip install "django-pushcast\[celery\]", then add'):
        call_command("setuppushschedules")
