"""Declarative Web Push: the payload format, the ``payload_format`` option, and the refusals."""

from __future__ import annotations

import dataclasses

import pytest

pytest.importorskip("http_ece")  # the "webpush" extra (see tests/conftest.py)

from django_push.backends.webpush_declarative import (
    ERROR_NO_URL,
    DeclarativeUnavailable,
    check_declarative_payload,
    declarative_payload,
)
from django_push.exceptions import PushConfigurationError
from django_push.message import PushMessage
from django_push.results import DeliveryStatus

from .fixtures import BROWSER
from .test_webpush import Service, make_backend, send

SAFARI = dataclasses.replace(BROWSER.target(), declarative=True)
CHROME = BROWSER.target()
MESSAGE = PushMessage(title="Goal!", body="2-1", url="https://example.com/match/7", badge=3, data={"m": 7})


def decrypted(service: Service) -> list[dict]:
    return [BROWSER.decrypt(r.content) for r in service.requests]


def test_declarative_payload_matches_the_push_api_format():
    payload = declarative_payload(MESSAGE)
    assert payload == {
        "web_push": 8030,
        "notification": {
            "title": "Goal!",
            "navigate": "https://example.com/match/7",
            "body": "2-1",
            "data": {"m": 7},
        },
        "app_badge": 3,
    }
    assert check_declarative_payload(payload) == ""


def test_relative_url_is_joined_to_the_base_url_and_overrides_merge_last():
    message = PushMessage(title="T", url="/orders/42", overrides={"webpush": {"mutable": True}})
    payload = declarative_payload(message, "https://shop.example")
    assert payload["notification"]["navigate"] == "https://shop.example/orders/42"
    assert payload["mutable"] is True


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        ({"notification": {"title": "t", "navigate": "https://a.b/"}}, "web_push must be 8030"),
        ({"web_push": 8030, "notification": {"navigate": "https://a.b/"}}, "notification.title is required"),
        ({"web_push": 8030, "notification": {"title": "t"}}, "notification.navigate must be an absolute URL"),
        (
            {"web_push": 8030, "notification": {"title": "t", "navigate": "/x"}},
            "navigate must be an absolute",
        ),
        (
            {"web_push": 8030, "notification": {"title": "t", "navigate": "https://a.b/"}, "app_badge": -1},
            "app_badge must be an unsigned integer",
        ),
    ],
)
def test_the_format_check_names_what_is_wrong(payload, problem):
    assert problem in check_declarative_payload(payload)


def test_classic_is_the_default_even_for_declarative_capable_subscriptions():
    service = Service()
    send(make_backend(service), MESSAGE, SAFARI)
    (body,) = decrypted(service)
    assert "web_push" not in body and body["title"] == "Goal!"


def test_declarative_mode_sends_the_declarative_format_to_every_subscription():
    service = Service()
    results = send(make_backend(service, payload_format="declarative"), MESSAGE, SAFARI, CHROME)
    assert [r.status for r in results] == [DeliveryStatus.SENT] * 2
    assert all(check_declarative_payload(b) == "" for b in decrypted(service))


def test_auto_mode_chooses_per_subscription():
    service = Service()
    send(make_backend(service, payload_format="auto"), MESSAGE, SAFARI, CHROME)
    safari, chrome = decrypted(service)
    assert safari["web_push"] == 8030 and safari["notification"]["navigate"] == MESSAGE.url
    assert "web_push" not in chrome and chrome["url"] == MESSAGE.url


def test_declarative_mode_rejects_a_message_without_url_with_the_reason():
    service = Service()
    (result,) = send(
        make_backend(service, payload_format="declarative"), PushMessage(title="No link"), SAFARI
    )
    assert result.status == DeliveryStatus.REJECTED
    assert result.error_code == ERROR_NO_URL and "no url" in result.reason
    assert service.requests == []  # refused before anything was sent


def test_declarative_mode_rejects_a_relative_url_without_a_base():
    (result,) = send(make_backend(payload_format="declarative"), PushMessage(title="T", url="/x"), SAFARI)
    assert result.status == DeliveryStatus.REJECTED and "declarative_base_url" in result.reason


def test_auto_mode_falls_back_to_classic_for_a_message_without_url():
    service = Service()
    (result,) = send(make_backend(service, payload_format="auto"), PushMessage(title="No link"), SAFARI)
    assert result.status == DeliveryStatus.SENT
    (body,) = decrypted(service)
    assert "web_push" not in body and body["title"] == "No link"


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"payload_format": "fancy"}, "['payload_format'] must be one of"),
        ({"declarative_base_url": "http://insecure.example"}, "['declarative_base_url'] must be"),
    ],
)
def test_bad_options_name_the_setting(options, fragment):
    with pytest.raises(PushConfigurationError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        make_backend(**options)


def test_loopback_http_counts_as_secure_like_in_browsers():
    payload = declarative_payload(PushMessage(title="T", url="/x"), "http://127.0.0.1:8000")
    assert payload["notification"]["navigate"] == "http://127.0.0.1:8000/x"
    make_backend(declarative_base_url="http://localhost:8000")  # accepted
    with pytest.raises(DeclarativeUnavailable, match="not an https"):
        declarative_payload(PushMessage(title="T", url="http://example.com/x"))
