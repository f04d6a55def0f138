import pytest
from django.core import checks

from django_push.checks import check_settings

LOCMEM = {"BACKEND": "django_push.backends.locmem.LocmemBackend"}
ALL = {"apns": LOCMEM, "fcm": LOCMEM, "webpush": LOCMEM}


def ids(settings, value):
    settings.DJANGO_PUSH = value
    return sorted(m.id for m in check_settings())


def test_valid_settings_have_no_messages(settings):
    assert ids(settings, {"BACKENDS": ALL}) == []


@pytest.mark.parametrize(
    "value, expected",
    [
        ([], "django_push.E001"),
        ({"BACKENDS": ALL, "BAKENDS": {}}, "django_push.E002"),
        ({"BACKENDS": ALL, "CHUNK_SIZE": 0}, "django_push.E003"),
        ({"BACKENDS": ALL, "MAX_ATTEMPTS": "5"}, "django_push.E003"),
        ({"BACKENDS": []}, "django_push.E004"),
        ({"BACKENDS": {**ALL, "gcm": LOCMEM}}, "django_push.E005"),
        ({"BACKENDS": {**ALL, "apns": {"OPTIONS": {}}}}, "django_push.E006"),
        ({"BACKENDS": {**ALL, "apns": {**LOCMEM, "OPTIONZ": {}}}}, "django_push.E007"),
        ({"BACKENDS": {**ALL, "apns": {"BACKEND": "no.such.Backend"}}}, "django_push.E008"),
        ({"BACKENDS": ALL, "APPLICATIONS": {"x": {"PLATFORM": "bb"}}}, "django_push.E009"),
        ({"BACKENDS": ALL, "WEBPUSH_ALLOWED_HOSTS": "fcm.googleapis.com"}, "django_push.E010"),
        ({"BACKENDS": {**ALL, "apns": {**LOCMEM, "OPTIONS": {"nope": 1}}}}, "django_push.E011"),
        ({"BACKENDS": {"apns": LOCMEM, "fcm": LOCMEM}}, "django_push.W001"),
        ({"BACKENDS": ALL, "WEBHOOK_DISABLE_AFTER_FAILURES": 0}, "django_push.E003"),
        ({"BACKENDS": ALL, "WEBHOOK_SECRET_OVERLAP_SECONDS": -1}, "django_push.E003"),
        ({"BACKENDS": ALL, "WEBHOOK_ALLOWED_PRIVATE_HOSTS": "127.0.0.1"}, "django_push.E025"),
        ({"BACKENDS": ALL, "WEBHOOK_ALLOWED_PRIVATE_HOSTS": ["127.0.0.1:99999"]}, "django_push.E025"),
    ],
)
def test_each_problem_has_its_id(settings, value, expected):
    assert expected in ids(settings, value)


def test_application_options_are_checked_merged(settings):
    settings.DJANGO_PUSH = {
        "BACKENDS": ALL,
        "APPLICATIONS": {"ios": {"PLATFORM": "apns", "OPTIONS": {"outcomes": {}, "bogus": 1}}},
    }
    messages = check_settings()
    assert [m.id for m in messages] == ["django_push.E011"]
    assert "APPLICATIONS" in messages[0].msg and "'bogus'" in messages[0].msg
    assert messages[0].hint


def test_every_message_has_a_hint(settings):
    settings.DJANGO_PUSH = {"BACKENDS": {"apns": {"BACKEND": "no.such.Backend"}}, "X": 1}
    assert all(m.hint for m in check_settings())


def test_registered_with_django(settings):
    settings.DJANGO_PUSH = {"BACKENDS": ALL, "TYPO": 1}
    assert "django_push.E002" in [m.id for m in checks.run_checks()]


def test_shape_errors_have_hints_too(settings):
    settings.DJANGO_PUSH = {
        "BACKENDS": {**ALL, "apns": {**LOCMEM, "OPTIONS": ["topic"]}},
        "APPLICATIONS": {"x": {"OPTIONS": {}}},
    }
    found = {m.id: m for m in check_settings()}
    assert {"django_push.E006", "django_push.E009"} <= set(found)
    assert all(m.hint for m in found.values())


def test_channels_are_opt_in_and_their_paths_are_checked(settings):
    # No backend for email, sms or webhook is fine: test_valid_settings_have_no_messages has none.
    assert ids(settings, {"BACKENDS": {**ALL, "sms": LOCMEM, "webhook": LOCMEM}}) == []
    settings.DJANGO_PUSH = {"BACKENDS": ALL, "PHONE_NUMBER_RESOLVER": "accounts.nope.phone_for"}
    [message] = check_settings()
    assert message.id == "django_push.E024"
    assert 'DJANGO_PUSH["PHONE_NUMBER_RESOLVER"]' in message.msg and "cannot be imported" in message.msg
    assert "f(user) -> str | None" in message.hint


def test_email_without_a_backend_entry_sends_through_django_email_backend(settings):
    from django_push.backends.email import EmailBackend
    from django_push.handler import build_backend

    settings.DJANGO_PUSH = {"BACKENDS": ALL}
    assert isinstance(build_backend("email"), EmailBackend)


def test_webhook_private_hosts_error_names_the_setting_and_an_example(settings):
    settings.DJANGO_PUSH = {"BACKENDS": ALL, "WEBHOOK_ALLOWED_PRIVATE_HOSTS": ["[::1"]}
    [error] = [m for m in check_settings() if m.id == "django_push.E025"]
    assert 'DJANGO_PUSH["WEBHOOK_ALLOWED_PRIVATE_HOSTS"]' in error.msg and "127.0.0.1:8443" in error.hint
    settings.DJANGO_PUSH = {"BACKENDS": ALL, "WEBHOOK_ALLOWED_PRIVATE_HOSTS": ["127.0.0.1:8443"]}
    assert ids(settings, settings.DJANGO_PUSH) == []


def test_sms_and_webhook_backends_are_platforms_too(settings):
    channels = {
        "sms": {"BACKEND": "django_push.backends.console.ConsoleBackend"},
        "webhook": {"BACKEND": "django_push.backends.webhooks.WebhookBackend"},
    }
    assert ids(settings, {"BACKENDS": {**ALL, **channels}}) == []
