"""The fake service's Instance ID endpoints and declarative check, pinned with httpx's own HTTP/2 client
(not our transport): the integration tests trust these answers."""

from __future__ import annotations

import json

import pytest

from bench.fakepush import FakePushService
from bench.fakepush_dwp import check_declarative, topic_members

from .test_fakepush import post_all

BEARER = {"authorization": "Bearer fake-1", "access_token_auth": "true"}


def batch(action: str, tokens: list, topic: str = "/topics/news", headers: dict = BEARER):
    body = json.dumps({"to": topic, "registration_tokens": tokens}).encode()
    return f"/iid/v1:{action}", headers, body


def test_instance_id_batches_and_their_answers():
    with FakePushService() as service:
        added, removed, too_many, no_topic, anonymous = post_all(
            service,
            [
                batch("batchAdd", ["tok-1", "dead-2", "bad-3", "flaky-4", "tok-5"]),
                batch("batchRemove", ["tok-5"], topic="/topics/other"),
                batch("batchAdd", [f"t{i}" for i in range(1001)]),
                batch("batchAdd", ["tok-1"], topic="news"),
                batch("batchAdd", ["tok-1"], headers={}),
            ],
        )
        members = topic_members(service.stats)
    assert added.status_code == 200 and added.http_version == "HTTP/2"
    assert added.json()["results"] == [
        {},
        {"error": "NOT_FOUND"},
        {"error": "INVALID_ARGUMENT"},
        {"error": "INTERNAL"},
        {},
    ]
    assert removed.json() == {"results": [{}]}
    assert too_many.status_code == 400 and no_topic.status_code == 400
    assert anonymous.status_code == 401
    assert members["news"] == {"tok-1", "tok-5"}


def test_declarative_check_names_each_rule():
    ok = {"web_push": 8030, "notification": {"title": "t", "navigate": "https://a.example/x"}, "app_badge": 1}
    assert check_declarative(ok) == ""
    assert check_declarative({**ok, "web_push": "8030"}) == "web_push must be 8030"
    assert "navigate" in check_declarative({**ok, "notification": {"title": "t", "navigate": "/x"}})
    assert "app_badge" in check_declarative({**ok, "app_badge": True})
    assert "mutable" in check_declarative({**ok, "mutable": "yes"})


@pytest.mark.parametrize("body", [b"not encrypted", b""])
def test_an_unreadable_declarative_push_is_a_400(body):
    pytest.importorskip("http_ece")  # the fake decrypts Web Push with it (the webpush extra)
    headers = {"ttl": "60", "content-encoding": "aes128gcm", "authorization": "vapid t=a,k=b"}
    with FakePushService() as service:
        (answer,) = post_all(service, [("/wp/decl-1", headers, body)])
    assert answer.status_code == 400 and b"declarative check failed" in answer.content
