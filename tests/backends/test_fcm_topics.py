"""FCM topic membership (Instance ID batchAdd/batchRemove): exact requests, per-token answers, limits.

The Instance ID service is a respx router mounted as the FCM backend's transport, so the calls go
through the backend's own send machinery (OAuth token, authorize, resend-at-once) as a send would.
"""

from __future__ import annotations

import json

import httpx
import pytest

pytest.importorskip("google.auth")  # the "fcm" extra (see tests/conftest.py)
pytest.importorskip("respx")  # the "test" extra, absent from the bare core run

import respx

from django_push.backends.fcm_topics import IID_BATCH_LIMIT, build_batch_request, parse_batch_response
from django_push.exceptions import InvalidTarget, PushAuthError
from django_push.results import DeliveryStatus
from django_push.transport import loop

from .fixtures import OAuth
from .test_fcm import make_backend

IID = "https://iid.googleapis.com/iid/v1"


def iid_backend(router: respx.Router, **options):
    return make_backend(transport=httpx.MockTransport(router.async_handler), **options)


def per_token(request: httpx.Request) -> httpx.Response:
    tokens = json.loads(request.content)["registration_tokens"]
    results = [
        {"error": "NOT_FOUND"}
        if t.startswith("dead")
        else {"error": "INVALID_ARGUMENT"}
        if t.startswith("bad")
        else {}
        for t in tokens
    ]
    return httpx.Response(200, json={"results": results})


def test_batch_add_request_is_exactly_what_instance_id_expects():
    router = respx.Router()
    route = router.post(f"{IID}:batchAdd").mock(side_effect=per_token)
    backend = iid_backend(router)
    results = loop.run(backend.manage_topic("add", "news", ["tok-1", "tok-2"]))
    assert [r.status for r in results] == [DeliveryStatus.SENT] * 2
    request = route.calls.last.request
    assert json.loads(request.content) == {"to": "/topics/news", "registration_tokens": ["tok-1", "tok-2"]}
    assert request.headers["authorization"] == "Bearer tok-1"  # the same OAuth token FCM sends use
    assert request.headers["access_token_auth"] == "true"


def test_per_token_errors_are_mapped_in_order():
    router = respx.Router()
    router.post(f"{IID}:batchRemove").mock(side_effect=per_token)
    results = loop.run(iid_backend(router).manage_topic("remove", "news", ["ok", "dead-1", "bad-1", "ok-2"]))
    assert [(r.status, r.error_code) for r in results] == [
        (DeliveryStatus.SENT, ""),
        (DeliveryStatus.INVALID_TOKEN, "NOT_FOUND"),
        (DeliveryStatus.REJECTED, "INVALID_ARGUMENT"),
        (DeliveryStatus.SENT, ""),
    ]


def test_more_than_1000_tokens_go_in_calls_of_1000():
    router = respx.Router()
    route = router.post(f"{IID}:batchAdd").mock(side_effect=per_token)
    tokens = [f"t{i}" for i in range(2 * IID_BATCH_LIMIT + 5)]
    results = loop.run(iid_backend(router).manage_topic("add", "news", tokens))
    assert len(results) == len(tokens) and all(r.ok for r in results)
    sizes = [len(json.loads(c.request.content)["registration_tokens"]) for c in route.calls]
    assert sizes == [1000, 1000, 5]


def test_iid_url_is_an_option():
    router = respx.Router()
    route = router.post("https://fake.example/iid/v1:batchAdd").mock(side_effect=per_token)
    loop.run(iid_backend(router, iid_url="https://fake.example/iid/v1").manage_topic("add", "n", ["t"]))
    assert route.called


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        (httpx.Response(503, headers={"retry-after": "7"}), DeliveryStatus.UNAVAILABLE),
        (httpx.Response(429, headers={"retry-after": "7"}), DeliveryStatus.THROTTLED),
        (httpx.Response(400, json={"error": "InvalidRequest"}), DeliveryStatus.REJECTED),
        (httpx.Response(200, json={"results": [{}]}), DeliveryStatus.UNAVAILABLE),  # not one per token
    ],
)
def test_whole_call_failures_give_every_token_the_same_result(answer, status):
    results = parse_batch_response(["a", "b"], answer)
    assert [r.status for r in results] == [status, status]
    if answer.status_code in (429, 503):
        assert results[0].retry_after == 7 and results[0].retryable


def test_refused_credentials_raise_like_a_send():
    with pytest.raises(PushAuthError, match="Instance ID refused"):
        parse_batch_response(["a"], httpx.Response(401))


def test_transport_failure_is_unavailable_for_every_token():
    router = respx.Router()
    router.post(f"{IID}:batchAdd").mock(side_effect=httpx.ReadTimeout("slow"))
    results = loop.run(iid_backend(router).manage_topic("add", "news", ["a", "b"]))
    assert [r.status for r in results] == [DeliveryStatus.UNAVAILABLE] * 2


def test_no_oauth_token_is_unavailable_not_an_exception():
    router = respx.Router()
    route = router.post(f"{IID}:batchAdd").mock(side_effect=per_token)
    backend = iid_backend(router, oauth_transport=httpx.MockTransport(OAuth(status=503)))
    results = loop.run(backend.manage_topic("add", "news", ["a"]))
    assert results[0].status == DeliveryStatus.UNAVAILABLE and not route.called


@pytest.mark.parametrize(("topic", "tokens"), [("bad topic!", ["a"]), ("news", []), ("news", ["a"] * 1001)])
def test_bad_batches_are_refused_before_sending(topic, tokens):
    with pytest.raises((InvalidTarget, ValueError)):
        build_batch_request(IID, "add", topic, tokens)
