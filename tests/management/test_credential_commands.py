"""``generatevapidkeys`` and ``checkpushcredentials``."""

from __future__ import annotations

import io
import json

import httpx
import pytest

pytest.importorskip("google.auth")  # the "fcm" extra (see tests/conftest.py)
pytest.importorskip("http_ece")  # the "webpush" extra (see tests/conftest.py)
from django.core.management import CommandError, call_command

from django_push.backends.apns_tokens import jwt_mint_count
from django_push.backends.webpush import vapid_public_key

from ..backends.fixtures import BROWSER, KEY_PEM, SERVICE_ACCOUNT, VAPID_PRIVATE, VAPID_PUBLIC, OAuth


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


# -- generatevapidkeys ------------------------------------------------------------------------------
def test_generatevapidkeys_env_output_is_labelled_and_a_working_pair():
    out = run("generatevapidkeys")
    values = dict(line.split("=", 1) for line in out.splitlines() if line and not line.startswith("#"))
    assert set(values) == {"VAPID_PUBLIC_KEY", "VAPID_PRIVATE_KEY"}
    assert 'DJANGO_PUSH["VAPID_PUBLIC_KEY"]' in out and "vapid_private_key" in out
    assert vapid_public_key(values["VAPID_PRIVATE_KEY"]) == values["VAPID_PUBLIC_KEY"]
    assert len(values["VAPID_PUBLIC_KEY"]) == 87 and len(values["VAPID_PRIVATE_KEY"]) == 43


def test_generatevapidkeys_json_and_fresh_keys_each_time():
    first = json.loads(run("generatevapidkeys", "--format", "json"))
    second = json.loads(run("generatevapidkeys", "--format=json"))
    assert vapid_public_key(first["private_key"]) == first["public_key"]
    assert first != second


# -- checkpushcredentials ---------------------------------------------------------------------------
def push_settings(**overrides) -> dict:
    backends = {
        "apns": {
            "BACKEND": "django_push.backends.apns.APNsBackend",
            "OPTIONS": {
                "team_id": "TEAM123456",
                "key_id": "KEY1234567",
                "key": KEY_PEM,
                "topic": "com.example",
            },
        },
        "fcm": {
            "BACKEND": "django_push.backends.fcm.FCMBackend",
            "OPTIONS": {"project_id": "demo-project", "credentials": SERVICE_ACCOUNT},
        },
        "webpush": {
            "BACKEND": "django_push.backends.webpush.WebPushBackend",
            "OPTIONS": {"vapid_private_key": VAPID_PRIVATE, "vapid_subject": "mailto:ops@example.com"},
        },
    }
    return {"BACKENDS": backends, "VAPID_PUBLIC_KEY": VAPID_PUBLIC, **overrides}


def test_all_good_prints_ok_per_backend_and_sends_nothing(settings):
    settings.DJANGO_PUSH = push_settings()
    before = jwt_mint_count()
    out = run("checkpushcredentials")
    assert "apns/default: OK" in out and "KEY1234567" in out
    assert "fcm/default: OK" in out and SERVICE_ACCOUNT["client_email"] in out
    assert "webpush/default: OK" in out
    assert jwt_mint_count() == before  # the check's token is never cached nor sent
    assert KEY_PEM.splitlines()[1] not in out and VAPID_PRIVATE not in out


def test_every_application_is_checked(settings):
    settings.DJANGO_PUSH = push_settings(
        APPLICATIONS={
            "ios-main": {"PLATFORM": "apns", "OPTIONS": {"topic": "com.example.main"}},
            "ios-beta": {"PLATFORM": "apns", "OPTIONS": {"key": "broken"}},
        }
    )
    out = io.StringIO()
    with pytest.raises(CommandError, match=r"1 backend\(s\)") as info:
        call_command("checkpushcredentials", "--platform", "apns", stdout=out)
    assert "apns/ios-main: OK" in out.getvalue()
    assert "apns/ios-beta: PROBLEM" in out.getvalue()
    assert "['key'] is not a usable APNs key" in str(info.value)


@pytest.mark.parametrize(
    ("overrides", "platform", "match"),
    [
        ({"VAPID_PUBLIC_KEY": ""}, "webpush", "VAPID_PUBLIC_KEY.*is empty"),
        ({"VAPID_PUBLIC_KEY": BROWSER.p256dh}, "webpush", "is not the public key"),
    ],
)
def test_vapid_problems_fail_with_the_exact_cause(settings, overrides, platform, match):
    settings.DJANGO_PUSH = push_settings(**overrides)
    with pytest.raises(CommandError, match=match):
        run("checkpushcredentials", "--platform", platform)


def test_missing_key_file_and_bad_service_account_are_named(settings, tmp_path):
    conf = push_settings()
    conf["BACKENDS"]["apns"]["OPTIONS"] = {
        **conf["BACKENDS"]["apns"]["OPTIONS"],
        "key": None,
        "key_file": str(tmp_path / "missing.p8"),
    }
    conf["BACKENDS"]["fcm"]["OPTIONS"] = {
        "project_id": "p",
        "credentials_file": str(tmp_path / "missing.json"),
    }
    settings.DJANGO_PUSH = conf
    with pytest.raises(CommandError) as info:
        run("checkpushcredentials", "--platform", "apns", "--platform", "fcm")
    message = str(info.value)
    assert "2 backend(s)" in message
    assert "['key_file']" in message and "missing.p8" in message
    assert "['credentials_file'] is not a usable service account" in message


def test_fetch_token_asks_google_for_an_access_token(settings):
    oauth = OAuth()
    conf = push_settings()
    conf["BACKENDS"]["fcm"]["OPTIONS"]["oauth_transport"] = httpx.MockTransport(oauth)
    settings.DJANGO_PUSH = conf
    assert "access token fetched" not in run("checkpushcredentials", "--platform", "fcm")
    assert oauth.requests == []
    assert "access token fetched" in run("checkpushcredentials", "--platform", "fcm", "--fetch-token")
    assert len(oauth.requests) == 1


def test_backends_without_credentials_are_skipped_and_unknown_platforms_fail(settings):
    settings.DJANGO_PUSH = {"BACKENDS": {"apns": {"BACKEND": "django_push.backends.locmem.LocmemBackend"}}}
    assert "uses no credentials" in run("checkpushcredentials")
    with pytest.raises(CommandError, match="no backend for platform 'fcm'"):
        run("checkpushcredentials", "--platform", "fcm")
    settings.DJANGO_PUSH = {"BACKENDS": {}}
    with pytest.raises(CommandError, match="empty"):
        run("checkpushcredentials")


def test_runs_with_system_checks_like_manage_py(settings):
    settings.DJANGO_PUSH = {"BACKENDS": {"apns": {"BACKEND": "django_push.backends.locmem.LocmemBackend"}}}
    out = io.StringIO()
    call_command("checkpushcredentials", skip_checks=False, stdout=out)
    assert "apns/default: OK" in out.getvalue()
