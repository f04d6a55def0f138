import pytest
from django.test import override_settings

from django_push.backends.dummy import DummyBackend
from django_push.backends.locmem import LocmemBackend
from django_push.conf import push_settings
from django_push.exceptions import PushConfigurationError
from django_push.handler import backends


def test_settings_are_read_live():
    with override_settings(DJANGO_PUSH={"CHUNK_SIZE": 7}):
        assert push_settings.CHUNK_SIZE == 7
    assert push_settings.CHUNK_SIZE == 500


def test_override_settings_rebuilds_backends():
    assert isinstance(backends["apns"], LocmemBackend)
    with override_settings(
        DJANGO_PUSH={"BACKENDS": {"apns": {"BACKEND": "django_push.backends.dummy.DummyBackend"}}}
    ):
        assert isinstance(backends["apns"], DummyBackend)
    assert isinstance(backends["apns"], LocmemBackend)


def test_backend_instance_is_reused_per_platform_and_application():
    assert backends["fcm"] is backends["fcm", "default"]


def test_applications_merge_options_over_platform():
    conf = {
        "BACKENDS": {
            "apns": {
                "BACKEND": "django_push.backends.locmem.LocmemBackend",
                "OPTIONS": {"outcomes": {"a": "sent"}},
            }
        },
        "APPLICATIONS": {
            "ios-main": {"PLATFORM": "apns"},
            "ios-pro": {"PLATFORM": "apns", "OPTIONS": {"outcomes": {"a": "invalid_token"}}},
        },
    }
    with override_settings(DJANGO_PUSH=conf):
        assert backends["apns", "ios-main"].options["outcomes"] == {"a": "sent"}
        assert backends["apns", "ios-pro"].options["outcomes"] == {"a": "invalid_token"}
        assert backends["apns", "ios-main"] is not backends["apns", "ios-pro"]
        assert push_settings.applications_for("apns") == ["ios-main", "ios-pro"]
        assert push_settings.applications_for("fcm") == ["default"]
        with pytest.raises(PushConfigurationError, match="Unknown application 'default' for platform 'apns'"):
            backends["apns", "default"]


def test_missing_platform_and_bad_path_are_precise():
    with override_settings(DJANGO_PUSH={"BACKENDS": {"fcm": {"BACKEND": "nope.Missing"}}}):
        with pytest.raises(PushConfigurationError, match=r"no backend for platform 'apns'"):
            backends["apns"]
        with pytest.raises(
            PushConfigurationError, match=r'\["fcm"\]\["BACKEND"\] = \'nope.Missing\' cannot be imported'
        ):
            backends["fcm"]


def test_required_option_missing_names_setting():
    from typing import ClassVar

    from django_push.backends.base import REQUIRED, BaseBackend

    class NeedsKey(BaseBackend):
        default_options: ClassVar = {"key": REQUIRED}

    with pytest.raises(
        PushConfigurationError,
        match=r'DJANGO_PUSH\["BACKENDS"\]\["apns"\]\["OPTIONS"\] is missing required option\(s\) \'key\'',
    ):
        NeedsKey(alias="apns")
    assert NeedsKey(alias="apns", key="k").options["key"] == "k"
