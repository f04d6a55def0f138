"""FCM HTTP v1 backend: exact requests, every answer mapping, and the cached OAuth2 token."""

from __future__ import annotations

import asyncio
import json
import urllib.parse

import httpx
import jwt
import pytest

pytest.importorskip("google.auth")  # the "fcm" extra (see tests/conftest.py)

from django_push.backends.fcm import FCMBackend
from django_push.exceptions import InvalidTarget, PushAuthError, PushConfigurationError
from django_push.message import PushMessage, Target
from django_push.results import DeliveryStatus

from .fixtures import RSA_KEY, SERVICE_ACCOUNT, OAuth

T0 = 1_700_000_000.0
TOKEN = "fcm-registration-token-1"


class Service:
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.answers: dict[str, httpx.Response] = {}

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0)
        self.requests.append(request)
        message = json.loads(request.content)["message"]
        target = message.get("token") or message.get("topic") or message.get("condition")
        return self.answers.get(target) or httpx.Response(
            200, json={"name": f"projects/demo-project/messages/{target[-3:]}"}
        )


def make_backend(service: Service | None = None, oauth: OAuth | None = None, **options) -> FCMBackend:
    settings = {
        "project_id": "demo-project",
        "credentials": SERVICE_ACCOUNT,
        "transport": httpx.MockTransport(service or Service()),
        "oauth_transport": httpx.MockTransport(oauth or OAuth()),
        **options,
    }
    backend = FCMBackend(alias="fcm", **settings)
    backend.clock = lambda: T0
    return backend


def send(backend: FCMBackend, message: PushMessage, *targets: Target):
    return backend.send(message, list(targets) or [Target(TOKEN)])


# -- requests ---------------------------------------------------------------------------------------
def test_request_exact_url_headers_and_body():
    service = Service()
    message = PushMessage(
        title="Hello",
        body="World",
        image="https://example.com/i.png",
        data={"order": 42, "tags": ["a"], "ok": True, "note": "plain", "none": None},
        priority="high",
        ttl=600,
        collapse_key="orders",
        channel_id="orders",
        icon="ic_stat",
        sound="ding",
        badge=2,
        thread_id="t1",
        title_loc_key="TK",
        title_loc_args=["x"],
        loc_key="BK",
        loc_args=["y"],
        url="https://example.com/o/42",
    )
    (result,) = send(make_backend(service), message)
    assert (result.status, result.message_id) == (DeliveryStatus.SENT, "projects/demo-project/messages/n-1")
    (request,) = service.requests
    assert str(request.url) == "https://fcm.googleapis.com/v1/projects/demo-project/messages:send"
    assert request.headers["authorization"] == "Bearer tok-1"
    assert request.headers["content-type"] == "application/json; charset=UTF-8"
    assert json.loads(request.content) == {
        "message": {
            "token": TOKEN,
            "notification": {"title": "Hello", "body": "World", "image": "https://example.com/i.png"},
            "data": {"order": "42", "tags": '["a"]', "ok": "true", "note": "plain", "none": "null"},
            "android": {
                "priority": "HIGH",
                "ttl": "600s",
                "collapse_key": "orders",
                "notification": {
                    "channel_id": "orders",
                    "title_loc_key": "TK",
                    "title_loc_args": ["x"],
                    "body_loc_key": "BK",
                    "body_loc_args": ["y"],
                    "icon": "ic_stat",
                    "sound": "ding",
                    "tag": "orders",
                },
            },
            "apns": {
                "headers": {
                    "apns-priority": "10",
                    "apns-push-type": "alert",
                    "apns-expiration": str(int(T0) + 600),
                    "apns-collapse-id": "orders",
                },
                "payload": {
                    "aps": {
                        "badge": 2,
                        "sound": "ding",
                        "thread-id": "t1",
                        "interruption-level": "time-sensitive",
                        "alert": {
                            "title": "Hello",
                            "body": "World",
                            "title-loc-key": "TK",
                            "title-loc-args": ["x"],
                            "loc-key": "BK",
                            "loc-args": ["y"],
                        },
                    }
                },
            },
            "webpush": {
                "headers": {"Urgency": "high", "TTL": "600"},
                "notification": {"icon": "ic_stat"},
                "fcm_options": {"link": "https://example.com/o/42"},
            },
        }
    }


def test_minimal_message_and_the_token_comes_first():
    service = Service()
    send(make_backend(service), PushMessage(title="Hi"))
    assert service.requests[0].content == (
        b'{"message":{"token":"fcm-registration-token-1","notification":{"title":"Hi"},'
        b'"android":{"priority":"HIGH"},"apns":{"headers":{"apns-priority":"10","apns-push-type":"alert"}},'
        b'"webpush":{"headers":{"Urgency":"normal"}}}}'
    )


def test_background_message_is_data_only_and_not_urgent():
    service = Service()
    send(make_backend(service), PushMessage(content_available=True, data={"sync": "1"}, title_loc_key="x"))
    body = json.loads(service.requests[0].content)["message"]
    assert "notification" not in body and "notification" not in body["android"]
    assert body["android"]["priority"] == "NORMAL"
    assert body["apns"] == {
        "headers": {"apns-priority": "5", "apns-push-type": "background"},
        "payload": {"aps": {"content-available": 1}},
    }


def test_low_priority_and_non_https_links_and_ttl_zero():
    service = Service()
    send(make_backend(service), PushMessage(title="t", priority="low", url="/relative", ttl=0))
    body = json.loads(service.requests[0].content)["message"]
    assert body["android"] == {"priority": "NORMAL", "ttl": "0s"}
    assert body["apns"]["headers"] == {
        "apns-priority": "5",
        "apns-push-type": "alert",
        "apns-expiration": "0",
    }
    assert body["apns"]["payload"] == {"aps": {"interruption-level": "passive"}}
    assert body["webpush"] == {"headers": {"Urgency": "low", "TTL": "0"}}


def test_overrides_are_deep_merged_into_the_message_object_but_cannot_change_the_target():
    service = Service()
    message = PushMessage(
        title="t",
        overrides={
            "fcm": {
                "android": {"direct_boot_ok": True},
                "fcm_options": {"analytics_label": "x"},
                "token": "z",
            }
        },
    )
    send(make_backend(service), message)
    body = json.loads(service.requests[0].content)["message"]
    assert body["android"] == {"priority": "HIGH", "direct_boot_ok": True}
    assert body["fcm_options"] == {"analytics_label": "x"}
    assert body["token"] == TOKEN


def test_payload_limit_counts_the_message_object_without_the_token():
    service = Service()
    backend = make_backend(service)
    fits = PushMessage(data={"k": "x" * 3900})
    assert send(backend, fits, Target("t" * 1000))[0].ok  # a long token does not count
    (result,) = send(backend, PushMessage(data={"k": "x" * 4096}))
    assert (result.status, result.error_code) == (DeliveryStatus.REJECTED, "payload_too_large")
    assert "FCM payload is" in result.reason and "4096" in result.reason
    assert len(service.requests) == 1


def test_endpoint_option_formats_the_project_id():
    service = Service()
    backend = make_backend(service, endpoint="https://127.0.0.1:8443/v1/projects/{project_id}/messages:send")
    send(backend, PushMessage(title="t"))
    assert str(service.requests[0].url) == "https://127.0.0.1:8443/v1/projects/demo-project/messages:send"


# -- topics and conditions --------------------------------------------------------------------------
def test_topic_and_condition_sends():
    from django_push.transport.loop import run

    service = Service()
    backend = make_backend(service)
    sent = run(backend.send_to_topic(PushMessage(title="t"), topic="/topics/news"))
    assert sent.ok and sent.message_id.endswith("ews")
    run(backend.send_to_topic(PushMessage(title="t"), condition="'a' in topics && 'b' in topics"))
    bodies = [json.loads(r.content)["message"] for r in service.requests]
    assert bodies[0]["topic"] == "news" and "token" not in bodies[0]
    assert bodies[1]["condition"] == "'a' in topics && 'b' in topics"
    bad = run(backend.send_to_topic(PushMessage(title="t"), topic="news flash"))
    assert (bad.status, bad.error_code) == (DeliveryStatus.REJECTED, "invalid_target")
    with pytest.raises(ValueError, match="exactly one"):
        backend.build_topic_request(PushMessage(title="t"), topic="a", condition="b")
    with pytest.raises(InvalidTarget):
        backend.build_topic_request(PushMessage(title="t"), condition=" ")


# -- OAuth2 token ----------------------------------------------------------------------------------
def test_token_is_fetched_once_for_many_batches_with_the_service_account_grant():
    oauth = OAuth()
    service = Service()
    backend = make_backend(service, oauth)
    for _ in range(3):
        send(backend, PushMessage(title="t"), Target("a"), Target("b"))
    assert len(oauth.requests) == 1
    assert {r.headers["authorization"] for r in service.requests} == {"Bearer tok-1"}
    (grant,) = oauth.requests
    assert str(grant.url) == "https://oauth2.googleapis.com/token"
    form = urllib.parse.parse_qs(grant.content.decode())
    assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    claims = jwt.decode(
        form["assertion"][0],
        RSA_KEY.public_key(),
        algorithms=["RS256"],
        audience=SERVICE_ACCOUNT["token_uri"],
    )
    assert claims["iss"] == SERVICE_ACCOUNT["client_email"]
    assert claims["scope"] == "https://www.googleapis.com/auth/firebase.messaging"


def test_token_is_refreshed_only_within_five_minutes_of_expiry():
    oauth = OAuth()
    service = Service()
    backend = make_backend(service, oauth)
    now = [T0]
    backend.clock = lambda: now[0]
    send(backend, PushMessage(title="t"))
    now[0] = T0 + 3600 - 301
    send(backend, PushMessage(title="t"))
    assert len(oauth.requests) == 1
    now[0] = T0 + 3600 - 299
    send(backend, PushMessage(title="t"))
    assert len(oauth.requests) == 2
    assert service.requests[-1].headers["authorization"] == "Bearer tok-2"


def test_token_uri_option_overrides_the_service_accounts():
    oauth = OAuth()
    send(make_backend(oauth=oauth, token_uri="https://127.0.0.1:9/token"), PushMessage(title="t"))
    assert str(oauth.requests[0].url) == "https://127.0.0.1:9/token"


def test_concurrent_batches_refresh_once():
    oauth = OAuth()
    backend = make_backend(Service(), oauth)

    async def go():
        async with backend:
            return await asyncio.gather(
                *(backend.asend(PushMessage(title=str(i)), [Target(f"t{i}")]) for i in range(4))
            )

    results = asyncio.run(go())
    assert all(r[0].ok for r in results)
    assert len(oauth.requests) == 1


def test_refused_grant_raises_auth_error_with_one_result_per_target():
    oauth = OAuth(400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
    service = Service()
    with pytest.raises(PushAuthError, match="invalid_grant") as info:
        send(make_backend(service, oauth), PushMessage(title="t"), Target("a"), Target("b"))
    assert [r.status for r in info.value.results] == [DeliveryStatus.FAILED] * 2
    assert service.requests == []


def test_token_endpoint_unreachable_makes_every_target_unavailable():
    # (A 5xx from the token endpoint is retried by google-auth with backoff, then ends the same way.)
    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    service = Service()
    backend = make_backend(service, oauth_transport=httpx.MockTransport(unreachable))
    results = send(backend, PushMessage(title="t"), Target("a"), Target("b"))
    assert [(r.status, r.error_code) for r in results] == [
        (DeliveryStatus.UNAVAILABLE, "oauth_unavailable")
    ] * 2
    assert "connection refused" in results[0].reason
    assert all(r.retryable for r in results) and service.requests == []


def test_credentials_file_is_read_at_send_time(tmp_path):
    path = tmp_path / "sa.json"
    backend = make_backend(credentials=None, credentials_file=str(path))  # no file yet: no error
    with pytest.raises(PushAuthError, match="cannot be loaded"):
        send(backend, PushMessage(title="t"))
    path.write_text(json.dumps(SERVICE_ACCOUNT))
    assert send(make_backend(credentials=None, credentials_file=str(path)), PushMessage(title="t"))[0].ok


def test_401_forgets_the_token_so_the_next_batch_fetches_a_new_one():
    oauth = OAuth()
    service = Service()
    service.answers[TOKEN] = httpx.Response(401, json={"error": {"code": 401, "status": "UNAUTHENTICATED"}})
    backend = make_backend(service, oauth)
    with pytest.raises(PushAuthError):
        send(backend, PushMessage(title="t"))
    del service.answers[TOKEN]
    assert send(backend, PushMessage(title="t"))[0].ok
    assert len(oauth.requests) == 2


# -- answers ----------------------------------------------------------------------------------------
def error(status: int, state: str, message: str = "", code: str | None = None, violations=None, headers=None):
    details = []
    if code:
        details.append({"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": code})
    if violations:
        details.append({"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": violations})
    body = {"error": {"code": status, "message": message, "status": state, "details": details}}
    return httpx.Response(status, json=body, headers=headers)


def result_for(response: httpx.Response):
    service = Service()
    service.answers[TOKEN] = response
    return send(make_backend(service), PushMessage(title="t"))[0]


@pytest.mark.parametrize(
    ("response", "status", "code"),
    [
        (
            error(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED"),
            "invalid_token",
            "UNREGISTERED",
        ),
        (
            error(403, "PERMISSION_DENIED", "SenderId mismatch", "SENDER_ID_MISMATCH"),
            "invalid_token",
            "SENDER_ID_MISMATCH",
        ),
        (
            error(
                400,
                "INVALID_ARGUMENT",
                "Invalid registration",
                "INVALID_ARGUMENT",
                [{"field": "message.token"}],
            ),
            "invalid_token",
            "INVALID_ARGUMENT",
        ),
        (
            error(400, "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token"),
            "invalid_token",
            "INVALID_ARGUMENT",
        ),
        (
            error(
                400,
                "INVALID_ARGUMENT",
                "Invalid value at 'message.data[0].value'",
                "INVALID_ARGUMENT",
                [{"field": "message.data[0].value", "description": "Invalid value"}],
            ),
            "rejected",
            "INVALID_ARGUMENT",
        ),
        (error(400, "INVALID_ARGUMENT", "Invalid JSON payload received."), "rejected", "INVALID_ARGUMENT"),
        (error(404, "NOT_FOUND", "Requested entity was not found."), "rejected", "NOT_FOUND"),
        (httpx.Response(404, text="<html>no such page</html>"), "rejected", "404"),
        (error(500, "INTERNAL", code="INTERNAL"), "unavailable", "INTERNAL"),
        (error(503, "UNAVAILABLE", code="UNAVAILABLE"), "unavailable", "UNAVAILABLE"),
        (httpx.Response(502, text="bad gateway"), "unavailable", "502"),
        (error(400, "FAILED_PRECONDITION", "weird"), "rejected", "FAILED_PRECONDITION"),
    ],
)
def test_answer_mapping(response, status, code):
    result = result_for(response)
    assert (result.status.value, result.error_code) == (status, code)
    assert result.status_code == response.status_code


def test_invalid_argument_about_the_payload_never_deactivates():
    result = result_for(error(400, "INVALID_ARGUMENT", "Request contains an invalid argument."))
    assert result.status == DeliveryStatus.REJECTED


@pytest.mark.parametrize(
    "response",
    [
        error(429, "RESOURCE_EXHAUSTED", code="QUOTA_EXCEEDED", headers={"retry-after": "17"}),
        error(429, "RESOURCE_EXHAUSTED", headers={"retry-after": "17"}),
    ],
)
def test_quota_answers_are_throttled_with_retry_after(response):
    result = result_for(response)
    assert (result.status, result.retry_after) == (DeliveryStatus.THROTTLED, 17.0)


@pytest.mark.parametrize(
    ("response", "match"),
    [
        (error(401, "UNAUTHENTICATED", code="THIRD_PARTY_AUTH_ERROR"), "uploaded to the Firebase project"),
        (
            error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials."),
            "refused our credentials",
        ),
        (
            error(403, "PERMISSION_DENIED", "Permission 'cloudmessaging.messages.create' denied"),
            "demo-project",
        ),
    ],
)
def test_credential_answers_raise(response, match):
    service = Service()
    service.answers[TOKEN] = response
    with pytest.raises(PushAuthError, match=match) as info:
        send(make_backend(service), PushMessage(title="t"))
    assert info.value.status_code == response.status_code


# -- configuration ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"credentials": None}, "exactly one of 'credentials'"),
        ({"credentials_file": "/sa.json"}, "exactly one of 'credentials'"),
        ({"credentials": "not a dict"}, "parsed into a dict"),
        ({"project_id": ""}, "project_id"),
        ({"endpoint": "https://x/{project}"}, "placeholder"),
    ],
)
def test_configuration_errors_name_the_setting(options, match):
    with pytest.raises(PushConfigurationError, match=match) as info:
        make_backend(**options)
    assert 'DJANGO_PUSH["BACKENDS"]["fcm"]["OPTIONS"]' in str(info.value)


def test_check_credentials_loads_and_optionally_fetches_a_token():
    oauth = OAuth()
    backend = make_backend(oauth=oauth, project_id="other-project")
    summary = backend.check_credentials()
    assert SERVICE_ACCOUNT["client_email"] in summary and "demo-project" in summary
    assert oauth.requests == []
    assert "access token fetched" in backend.check_credentials(fetch_token=True)
    assert len(oauth.requests) == 1
    refused = make_backend(oauth=OAuth(400, {"error": "invalid_grant"}))
    with pytest.raises(PushAuthError, match="invalid_grant"):
        refused.check_credentials(fetch_token=True)
