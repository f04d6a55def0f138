"""System checks for setting values (django_push/checks_values.py): keys, files, dotted paths, rates,
notification types and the Celery app."""

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from django_push.checks import check_settings
from django_push.compose import events
from django_push.compose.events import Rule
from django_push.dispatch import jobs
from django_push.exceptions import PushConfigurationError
from django_push.management.commands.generatevapidkeys import generate_vapid_keys

ROOT = Path(__file__).resolve().parents[1]
LOCMEM = {"BACKEND": "django_push.backends.locmem.LocmemBackend"}
ALL = {"apns": LOCMEM, "fcm": LOCMEM, "webpush": LOCMEM}
PUBLIC, PRIVATE = generate_vapid_keys()

UNKNOWN_TYPE_RULE = Rule(
    model="django_push.Topic", notification_type="no_such_type", recipients=lambda topic: None
)
UNKNOWN_FIELD_RULE = Rule(
    model="django_push.Topic",
    on="update",
    field="colour",
    notification_type="announcement",
    recipients=lambda topic: None,
)


def messages(settings, **push):
    settings.DJANGO_PUSH = {"BACKENDS": ALL, **push}
    return check_settings()


def by_id(settings, **push):
    return {m.id: m for m in messages(settings, **push)}


def pem(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def webpush(**options):
    return {
        "BACKEND": "django_push.backends.webpush.WebPushBackend",
        "OPTIONS": {"vapid_private_key": PRIVATE, "vapid_subject": "mailto:ops@example.com", **options},
    }


def apns(**options):
    return {
        "BACKEND": "django_push.backends.apns.APNsBackend",
        "OPTIONS": {"team_id": "TEAM123456", "key_id": "KEY1234567", "topic": "com.example.app", **options},
    }


def fcm(**options):
    return {
        "BACKEND": "django_push.backends.fcm.FCMBackend",
        "OPTIONS": {"project_id": "my-project", **options},
    }


@pytest.fixture
def p8(tmp_path):
    path = tmp_path / "AuthKey.p8"
    path.write_text(pem(ec.generate_private_key(ec.SECP256R1())))
    return str(path)


@pytest.fixture
def service_account(tmp_path):
    path = tmp_path / "fcm.json"
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "my-project",
                "private_key": pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
                "client_email": "push@my-project.iam.gserviceaccount.com",
                "token_uri": "https://oauth2.googleapis.com/token",
            }
        )
    )
    return str(path)


def test_real_backends_with_good_values_have_no_messages(settings, p8, service_account):
    pytest.importorskip("google.auth")
    pytest.importorskip("http_ece")
    backends = {"apns": apns(key_file=p8), "fcm": fcm(credentials_file=service_account), "webpush": webpush()}
    assert messages(settings, BACKENDS=backends) == []


# -- A1: Web Push -----------------------------------------------------------------------------------
@pytest.mark.parametrize("key", ["not-a-key", "", None, "/secrets/vapid.pem", PUBLIC])
def test_a_vapid_private_key_that_does_not_parse(settings, key):
    pytest.importorskip("http_ece")
    found = by_id(settings, BACKENDS={**ALL, "webpush": webpush(vapid_private_key=key)})
    message = found["django_push.E012"]
    path = 'DJANGO_PUSH["BACKENDS"]["webpush"]["OPTIONS"]["vapid_private_key"]'
    assert message.msg.startswith(path) and path in message.hint
    assert "generatevapidkeys" in message.hint and "-----BEGIN PRIVATE KEY-----" in message.hint
    if key == "/secrets/vapid.pem":
        assert "not the path of a file" in message.hint


def test_a_pem_vapid_key_is_fine(settings):
    pytest.importorskip("http_ece")
    key = pem(ec.generate_private_key(ec.SECP256R1()))
    assert messages(settings, BACKENDS={**ALL, "webpush": webpush(vapid_private_key=key)}) == []


@pytest.mark.parametrize("subject", ["ops@example.com", "http://example.com", "mailto:", ""])
def test_a_vapid_subject_that_is_not_mailto_or_https(settings, subject):
    pytest.importorskip("http_ece")
    message = by_id(settings, BACKENDS={**ALL, "webpush": webpush(vapid_subject=subject)})["django_push.E013"]
    assert 'DJANGO_PUSH["BACKENDS"]["webpush"]["OPTIONS"]["vapid_subject"]' in message.hint
    assert '"mailto:ops@example.com"' in message.hint


def test_an_application_value_names_the_application_setting(settings):
    pytest.importorskip("http_ece")
    found = by_id(
        settings,
        BACKENDS={**ALL, "webpush": webpush()},
        APPLICATIONS={"site-b": {"PLATFORM": "webpush", "OPTIONS": {"vapid_subject": "ops"}}},
    )
    assert list(found) == ["django_push.E013"]
    assert found["django_push.E013"].msg.startswith(
        'DJANGO_PUSH["APPLICATIONS"]["site-b"]["OPTIONS"]["vapid_subject"]'
    )


# -- A2: APNs and FCM credential files --------------------------------------------------------------
def test_a_missing_apns_key_file(settings, tmp_path):
    missing = str(tmp_path / "nope.p8")
    message = by_id(settings, BACKENDS={**ALL, "apns": apns(key_file=missing)})["django_push.E014"]
    assert f'["key_file"] ({missing}) cannot be read: No such file or directory' in message.msg
    assert (
        'DJANGO_PUSH["BACKENDS"]["apns"]["OPTIONS"]["key_file"] = "/secrets/AuthKey_KEY123.p8"'
        in message.hint
    )


def test_an_unreadable_apns_key_file(settings, tmp_path):
    message = by_id(settings, BACKENDS={**ALL, "apns": apns(key_file=str(tmp_path))})["django_push.E014"]
    assert "cannot be read" in message.msg


@pytest.mark.parametrize(
    "content", ["hello", pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))]
)
def test_an_apns_key_file_that_is_not_a_p256_pem(settings, tmp_path, content):
    path = tmp_path / "AuthKey.p8"
    path.write_text(content)
    message = by_id(settings, BACKENDS={**ALL, "apns": apns(key_file=str(path))})["django_push.E014"]
    assert "is not a usable APNs key" in message.msg and "-----BEGIN PRIVATE KEY-----" in message.hint


def test_an_inline_apns_key_that_does_not_parse(settings):
    message = by_id(settings, BACKENDS={**ALL, "apns": apns(key="MIGTAgEAMBMGByqGSM49")})["django_push.E014"]
    assert message.msg.startswith(
        'DJANGO_PUSH["BACKENDS"]["apns"]["OPTIONS"]["key"] is not a usable APNs key'
    )


def test_a_missing_apns_certificate(settings, tmp_path):
    message = by_id(settings, BACKENDS={**ALL, "apns": apns(cert_file=str(tmp_path / "none.pem"))})[
        "django_push.E014"
    ]
    assert '["cert_file"]' in message.msg and "cannot be read" in message.msg


def test_a_missing_fcm_credentials_file(settings, tmp_path):
    pytest.importorskip("google.auth")
    missing = str(tmp_path / "fcm.json")
    message = by_id(settings, BACKENDS={**ALL, "fcm": fcm(credentials_file=missing)})["django_push.E015"]
    assert (
        f'DJANGO_PUSH["BACKENDS"]["fcm"]["OPTIONS"]["credentials_file"] ({missing}) cannot be read'
        in message.msg
    )
    assert '"type": "service_account"' in message.hint and '"client_email"' in message.hint


@pytest.mark.parametrize(
    "content, problem",
    [
        ("{not json", "is not JSON"),
        (json.dumps({"project_info": {}, "client": []}), "no client_email, private_key, token_uri"),
        (json.dumps({"type": "authorized_user"}), "its type is 'authorized_user'"),
        (
            json.dumps({"client_email": "a@b", "token_uri": "https://t", "private_key": "nope"}),
            "its private_key is not a PEM private key",
        ),
    ],
)
def test_an_fcm_credentials_file_that_is_not_a_service_account(settings, tmp_path, content, problem):
    pytest.importorskip("google.auth")
    path = tmp_path / "fcm.json"
    path.write_text(content)
    message = by_id(settings, BACKENDS={**ALL, "fcm": fcm(credentials_file=str(path))})["django_push.E015"]
    assert problem in message.msg


def test_inline_fcm_credentials_are_checked_too(settings):
    pytest.importorskip("google.auth")
    message = by_id(settings, BACKENDS={**ALL, "fcm": fcm(credentials={"type": "service_account"})})[
        "django_push.E015"
    ]
    assert '["credentials"] is not a service-account key' in message.msg


def test_other_option_values_are_checked_by_building_the_backend(settings, p8):
    found = by_id(settings, BACKENDS={**ALL, "apns": apns(key_file=p8, token_ttl=10)})
    assert list(found) == ["django_push.E021"]
    assert "token_ttl" in found["django_push.E021"].msg and found["django_push.E021"].hint


# -- A3: dotted paths -------------------------------------------------------------------------------
def test_a_delivery_filter_that_does_not_import(settings):
    filters = ["django_push.compose.policies.preferences", "django_push.compose.policies.quiet_hour"]
    found = by_id(settings, DELIVERY_FILTERS=filters)
    message = found["django_push.E016"]
    assert message.msg.startswith(
        "DJANGO_PUSH[\"DELIVERY_FILTERS\"][1] = 'django_push.compose.policies.quiet_hour'"
    )
    assert '"django_push.compose.policies.quiet_hours"' in message.hint
    assert [m.id for m in messages(settings, DELIVERY_FILTERS=filters[:1])] == []


def test_a_delivery_filter_that_is_not_callable(settings):
    assert "django_push.E016" in by_id(settings, DELIVERY_FILTERS=["django_push.conf.DEFAULTS"])


def test_a_message_renderer_that_does_not_import(settings):
    message = by_id(settings, MESSAGE_RENDERER="django_push.compose.rendering.rendr")["django_push.E017"]
    assert 'DJANGO_PUSH["MESSAGE_RENDERER"] = "django_push.compose.rendering.render"' in message.hint
    assert messages(settings, MESSAGE_RENDERER="django_push.compose.rendering.render") == []


@pytest.mark.parametrize(
    "path, problem",
    [
        ("tests.compose.sample_rules.no_such_rule", "cannot be imported"),
        ("tests.no_such_module.RULES", "cannot be imported"),
        ("tests.compose.sample_rules.User", "names neither a Rule nor a list of Rules"),
        ("tests.test_checks_values.UNKNOWN_TYPE_RULE", "unknown notification type 'no_such_type'"),
        ("tests.test_checks_values.UNKNOWN_FIELD_RULE", "colour"),
    ],
)
def test_event_rules_that_do_not_load(settings, path, problem):
    message = by_id(settings, EVENT_RULES=["tests.compose.sample_rules.RULES", path])["django_push.E018"]
    assert message.msg.startswith(f'DJANGO_PUSH["EVENT_RULES"][1] = {path!r}') and problem in message.msg
    assert 'DJANGO_PUSH["EVENT_RULES"] = [' in message.hint or (
        'DJANGO_PUSH["NOTIFICATION_TYPES"] = {"no_such_type": {"priority": "normal"}}' in message.hint
    )


def test_a_bad_event_rules_path_does_not_crash_start_up(settings, caplog):
    """AppConfig.ready() connects the rules: a bad path is logged (and reported by `check`), not raised,
    so management commands still run."""
    settings.DJANGO_PUSH = {"BACKENDS": ALL, "EVENT_RULES": ["tests.compose.sample_rules.no_such_rule"]}
    with caplog.at_level(logging.ERROR, logger="django_push.compose.events"):
        events.connect_rules()  # what django_push's ready() calls
        events.register(*[])  # what a site's ready() calls
    assert "DJANGO_PUSH['EVENT_RULES'] is invalid" in caplog.text and "no_such_rule" in caplog.text
    with pytest.raises(PushConfigurationError):
        events.rules()  # still raised where the rules are asked for


def test_check_command_reports_a_bad_event_rules_path(settings):
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    settings.DJANGO_PUSH = {"BACKENDS": ALL, "EVENT_RULES": ["tests.compose.sample_rules.no_such_rule"]}
    with pytest.raises(SystemCheckError, match=r"django_push\.E018"):
        call_command("check")


# -- A4: rates and notification types ----------------------------------------------------------------
@pytest.mark.parametrize("rate", ["lots", "60", "60/fortnight", "sixty/min", "60/", " 60/min", "1/2/3"])
def test_a_throttle_rate_drf_cannot_parse(settings, rate):
    pytest.importorskip("rest_framework")
    message = by_id(settings, API_THROTTLE_RATE=rate)["django_push.E019"]
    assert repr(rate) in message.msg
    assert 'DJANGO_PUSH["API_THROTTLE_RATE"] = "60/min"' in message.hint


@pytest.mark.parametrize("rate", ["60/min", "10/s", "1000/hour", "5000/day", None])
def test_good_throttle_rates(settings, rate):
    assert messages(settings, API_THROTTLE_RATE=rate) == []


def test_a_bad_throttle_rate_answers_500_which_the_check_announces(settings):
    pytest.importorskip("rest_framework")
    from rest_framework.test import APIRequestFactory

    from django_push.api.throttling import RegistrationThrottle

    settings.DJANGO_PUSH = {"BACKENDS": ALL, "API_THROTTLE_RATE": "lots"}
    with pytest.raises(PushConfigurationError):
        RegistrationThrottle().allow_request(APIRequestFactory().post("/"), None)


@pytest.mark.parametrize(
    "types, problem",
    [
        ({"like": {"rate_limt": "5/hour"}}, "unknown key(s) rate_limt"),
        ({"order_shipped": {"priority": "urgent"}}, "\"priority\"] is 'urgent'"),
        ({"order_shipped": {"channels": ["push", "fax"]}}, '"channels"]'),
        ({"order_shipped": {"channels": []}}, '"channels"]'),
        ({"like": {"rate_limit": "lots"}}, "\"rate_limit\"] is 'lots'"),
        ({"like": "high"}, "must be a dict or None"),
    ],
)
def test_a_typo_in_notification_types(settings, types, problem):
    message = by_id(settings, NOTIFICATION_TYPES=types)["django_push.E020"]
    assert problem in message.msg
    assert 'DJANGO_PUSH["NOTIFICATION_TYPES"] = {"order_shipped"' in message.hint


def test_good_notification_types(settings):
    types = {"order_shipped": {"priority": "high", "rate_limit": "5/hour"}, "weekly_digest": None}
    assert messages(settings, NOTIFICATION_TYPES=types) == []


# -- A5: a broker configured, the site's Celery app not loaded ---------------------------------------
@pytest.fixture
def celery_state():
    pytest.importorskip("celery")
    """Celery's current and default apps, restored after the test; ``use(app)`` makes ``app`` both."""
    from celery import _state

    saved = (_state._tls.current_app, _state.default_app)

    def use(app):
        _state._tls.current_app = app
        _state.default_app = app

    yield use
    _state._tls.current_app, _state.default_app = saved


def site_app(**conf):
    from celery import Celery

    app = Celery("proj", fixups=[], set_as_current=False)
    app.conf.update(**conf)
    return app


def test_a_broker_without_the_sites_celery_app_warns(settings, celery_state):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/0"
    settings.CELERY_TASK_ALWAYS_EAGER = False
    celery_state(None)
    message = by_id(settings)["django_push.W002"]
    assert "settings.CELERY_BROKER_URL is set, but no Celery app is loaded" in message.msg
    assert "`from .celery import app as celery_app`" in message.hint

    from celery import Celery

    celery_state(Celery("default", fixups=[], set_as_current=False))  # Celery's fallback app
    assert "Celery's fallback app" in by_id(settings)["django_push.W002"].msg


def test_a_loaded_and_configured_celery_app_is_fine(settings, celery_state):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/0"
    settings.CELERY_TASK_ALWAYS_EAGER = False
    celery_state(site_app(broker_url="redis://127.0.0.1:6379/0"))
    assert messages(settings) == []
    celery_state(site_app())  # loaded, but not configured from the settings
    assert "app this process uses ('proj') has no broker_url" in by_id(settings)["django_push.W002"].msg


def test_no_warning_when_in_process_is_intended(settings, celery_state):
    celery_state(None)
    settings.CELERY_BROKER_URL = ""
    assert messages(settings) == []
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/0"
    settings.CELERY_TASK_ALWAYS_EAGER = True
    assert messages(settings) == []
    settings.CELERY_TASK_ALWAYS_EAGER = False
    assert messages(settings, USE_CELERY=False) == []


def test_the_first_in_process_send_with_a_broker_set_logs_a_warning_once(
    settings, celery_state, monkeypatch, caplog
):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/0"
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.DJANGO_PUSH = {"BACKENDS": ALL}
    celery_state(None)
    monkeypatch.setattr(jobs, "_warned_in_process", False)
    monkeypatch.setattr(jobs, "use_celery", lambda: False)
    sent = []
    with caplog.at_level(logging.WARNING, logger="django_push.dispatch.jobs"):
        jobs.enqueue("django_push.start_notification", sent.append, 1)
        jobs.enqueue("django_push.start_notification", sent.append, 2)
    assert sent == [1, 2]
    warnings = [r for r in caplog.records if "runs in-process" in r.getMessage()]
    assert len(warnings) == 1 and "from .celery import app as celery_app" in warnings[0].getMessage()


@pytest.mark.parametrize("broker", ["", "redis://127.0.0.1:6379/9"])
def test_the_example_project_loads_its_celery_app(tmp_path, broker):
    pytest.importorskip("celery")
    """`manage.py check` of the example site: clean with and without a broker (no broker is needed
    for either: nothing connects), and with one, dispatch would use Celery."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "example_project.settings",
        "DJANGO_DB_PATH": str(tmp_path / "db.sqlite3"),
        "DJANGO_PUSH_BROKER_URL": broker,
    }
    check = subprocess.run(
        [sys.executable, "manage.py", "check", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django_push.dispatch import jobs; print(jobs.use_celery())",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert probe.stdout.strip() == str(bool(broker)), probe.stderr


def test_a_backend_value_seen_through_several_applications_is_reported_once(settings, tmp_path):
    found = messages(
        settings,
        BACKENDS={**ALL, "apns": apns(key_file=str(tmp_path / "none.p8"))},
        APPLICATIONS={
            "ios-main": {"PLATFORM": "apns", "OPTIONS": {"topic": "com.example.main"}},
            "ios-pro": {"PLATFORM": "apns", "OPTIONS": {"topic": "com.example.pro"}},
        },
    )
    assert [m.id for m in found] == ["django_push.E014"]
