"""Twilio SMS backend: the request Twilio's Messages API expects, and every answer mapped (respx)."""

from __future__ import annotations

import base64
import logging
from urllib.parse import parse_qs

import httpx
import pytest

# respx comes with the test extra (the rule in tests/conftest.py: the bare core run skips here).
pytest.importorskip("respx")

import respx

from django_push.backends.twilio import TWILIO_BODY_LIMIT, TwilioSMSBackend, sms_text
from django_push.exceptions import PushAuthError, PushConfigurationError
from django_push.message import PushMessage, Target
from django_push.results import DeliveryStatus

from .contract import ScriptableContract

BASE = "https://twilio.test"
SID = "AC" + "1" * 32
TOKEN = "secret-auth-token-0123456789"
URL = f"{BASE}/2010-04-01/Accounts/{SID}/Messages.json"


def make(router: respx.MockRouter, **options) -> TwilioSMSBackend:
    options.setdefault("from_number", "+15005550006")
    return TwilioSMSBackend(
        alias="sms",
        account_sid=SID,
        auth_token=TOKEN,
        base_url=BASE,
        transport=httpx.MockTransport(router.async_handler),
        **options,
    )


def form(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


def error(status: int, code: int, message: str = "nope", **headers: str) -> httpx.Response:
    body = {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}"}
    return httpx.Response(status, json={**body, "status": status}, headers=headers)


def test_request_is_the_messages_api_form_with_basic_auth():
    router = respx.MockRouter(assert_all_called=False)
    route = router.post(URL).mock(return_value=httpx.Response(201, json={"sid": "SM123", "status": "queued"}))
    result = make(router).send(
        PushMessage(title="Code", body="Your code is 123456"), [Target("+33612345678")]
    )[0]
    assert result.status == DeliveryStatus.SENT and result.message_id == "SM123"
    request = route.calls.last.request
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.headers["authorization"] == "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
    assert form(request) == {
        "To": "+33612345678",
        "From": "+15005550006",
        "Body": "Code\nYour code is 123456",
    }


def test_messaging_service_replaces_from():
    router = respx.MockRouter()
    route = router.post(URL).mock(return_value=httpx.Response(201, json={"sid": "SM1"}))
    make(router, from_number="", messaging_service_sid="MG42").send(
        PushMessage(body="hi"), [Target("+14155550100")]
    )
    assert form(route.calls.last.request) == {
        "To": "+14155550100",
        "MessagingServiceSid": "MG42",
        "Body": "hi",
    }


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        (error(400, 21211, "The 'To' number is not a valid phone number."), DeliveryStatus.INVALID_TOKEN),
        (error(400, 21614, "'To' number is not a valid mobile number"), DeliveryStatus.INVALID_TOKEN),
        (error(400, 21610, "Attempt to send to unsubscribed recipient"), DeliveryStatus.INVALID_TOKEN),
        (
            error(400, 21617, "The concatenated message body exceeds the 1600 character limit"),
            DeliveryStatus.REJECTED,
        ),
        (error(400, 21606, "The 'From' phone number is not valid"), DeliveryStatus.REJECTED),
        (error(429, 20429, "Too Many Requests", **{"retry-after": "7"}), DeliveryStatus.THROTTLED),
        (error(503, 20500, "Service unavailable"), DeliveryStatus.UNAVAILABLE),
        (httpx.Response(502, text="<html>bad gateway</html>"), DeliveryStatus.UNAVAILABLE),
    ],
)
def test_answers_are_mapped_like_push_answers(answer, status):
    router = respx.MockRouter()
    router.post(URL).mock(return_value=answer)
    result = make(router).send(PushMessage(body="x"), [Target("+33612345678")])[0]
    assert result.status == status
    assert result.status_code == answer.status_code
    if status == DeliveryStatus.THROTTLED:
        assert result.retry_after == 7.0 and result.error_code == "20429"
    if status == DeliveryStatus.INVALID_TOKEN:
        assert result.error_code in {"21211", "21614", "21610"} and "Twilio answered 400" in result.reason


def test_bad_credentials_raise_without_leaking_the_token(caplog):
    router = respx.MockRouter()
    router.post(URL).mock(return_value=error(401, 20003, "Authenticate"))
    with caplog.at_level(logging.DEBUG), pytest.raises(PushAuthError) as info:
        make(router).send(PushMessage(body="x"), [Target("+33612345678"), Target("+33612345679")])
    assert info.value.status_code == 401
    assert [r.status for r in info.value.results] == [DeliveryStatus.FAILED] * 2
    assert TOKEN not in str(info.value) and TOKEN not in caplog.text
    assert base64.b64encode(f"{SID}:{TOKEN}".encode()).decode() not in caplog.text


def test_text_is_trimmed_to_the_documented_limit():
    assert sms_text(PushMessage(title="T", body="b" * 2000)) == "T\n" + "b" * (TWILIO_BODY_LIMIT - 3) + "…"
    assert len(sms_text(PushMessage(body="b" * 2000))) == TWILIO_BODY_LIMIT
    router = respx.MockRouter()
    route = router.post(URL).mock(return_value=httpx.Response(201, json={"sid": "SM1"}))
    make(router, max_length=20).send(
        PushMessage(title="Payment received", body="Your card was charged"), [Target("+1")]
    )
    assert form(route.calls.last.request)["Body"] == "Payment received\nYo…"


def test_an_empty_message_is_rejected_before_sending():
    router = respx.MockRouter(assert_all_called=False)
    route = router.post(URL).mock(return_value=httpx.Response(201))
    result = make(router).send(PushMessage(), [Target("+33612345678")])[0]
    assert result.status == DeliveryStatus.REJECTED and result.error_code == "empty_message"
    assert not route.called


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"from_number": ""}, "exactly one of 'from_number'"),
        ({"messaging_service_sid": "MG1"}, "exactly one of 'from_number'"),
        ({"max_length": 5000}, r"\['max_length'\] must be an integer from 1 to 1600"),
    ],
)
def test_bad_options_name_the_setting(options, match):
    with pytest.raises(PushConfigurationError, match=match) as info:
        make(respx.MockRouter(), **options)
    assert 'DJANGO_PUSH["BACKENDS"]["sms"]["OPTIONS"]' in str(info.value)


def test_missing_credentials_name_the_setting():
    with pytest.raises(PushConfigurationError, match=r"missing required option.*'auth_token'"):
        TwilioSMSBackend(alias="sms", account_sid=SID, from_number="+1")


class TestTwilioContract(ScriptableContract):
    """The shared backend contract, Twilio answering through respx per 'To' number."""

    dialect = {
        DeliveryStatus.INVALID_TOKEN: (400, 21211),
        DeliveryStatus.UNAVAILABLE: (503, 20500),
        DeliveryStatus.THROTTLED: (429, 20429),
        DeliveryStatus.REJECTED: (400, 21617),
    }

    @property
    def scripted(self) -> dict[str, DeliveryStatus]:
        return self.__dict__.setdefault("_scripted", {})

    def make_targets(self, n: int) -> list[Target]:
        return [Target(f"+3361234{i:04d}", key=i) for i in range(n)]

    def script(self, target: Target, status: DeliveryStatus) -> None:
        self.scripted[target.address] = status

    def make_backend(self, **options):
        def answer(request: httpx.Request) -> httpx.Response:
            scripted = self.scripted.get(form(request)["To"])
            if scripted is None:
                return httpx.Response(201, json={"sid": "SM" + form(request)["To"][1:]})
            return error(*self.dialect[scripted])

        router = respx.MockRouter(assert_all_called=False)
        router.post(URL).mock(side_effect=answer)
        return make(router, **options)
