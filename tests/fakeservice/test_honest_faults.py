"""The fake push service fails like the real ones: delivered-but-unanswered pushes at resets,
GOAWAY every N streams, Apple's provider-token rule, and collapse ids.

Each test drives the wire with a raw HTTP/2 client (tests/fakeservice/h2client.py) or httpx, and
checks the fake's counters against what a device would have received.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import subprocess
import sys
import time

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from bench.fakepush import FakePushService

from .h2client import TIMEOUT, RawH2, Request, connect, wait_until

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
APNS_AUTH = {"authorization": "bearer jwt-one"}
FCM_PATH = "/v1/projects/demo/messages:send"
WEBPUSH_HEADERS = {"ttl": "60", "content-encoding": "aes128gcm", "authorization": "vapid t=abc,k=def"}
SIGNING_KEY = ec.generate_private_key(ec.SECP256R1())


def apns(token: str, **headers: str) -> Request:
    return "/3/device/" + token, {**APNS_AUTH, **headers}, b'{"aps":{}}'


def tokens(n: int, prefix: str = "") -> list[str]:
    return [prefix + f"{i:x}".rjust(64 - len(prefix), "0") for i in range(n)]


def h2_client(service: FakePushService) -> httpx.AsyncClient:
    context = ssl.create_default_context(cafile=service.ca_file)
    return httpx.AsyncClient(http2=True, verify=context, base_url=service.url, timeout=TIMEOUT)


# -- resets: in-flight streams die, the validated ones were (partly) delivered ---------------------
@pytest.mark.parametrize(
    ("fraction", "delivered"),
    [(None, 5), (1.0, 10), (0.0, 0)],  # the default for `reset` is 0.5: the 5 oldest of 10
)
def test_a_reset_kills_in_flight_streams_and_counts_validated_ones_delivered(fraction, delivered):
    in_flight, faulting = tokens(10), "f" * 64
    with FakePushService(latency=3.0, reset_linger=0.05, reset_delivered_fraction=fraction) as service:
        service.inject_fault(faulting, "reset")

        async def go() -> RawH2:
            client = await connect(service)
            started = time.monotonic()
            # One write: the 10 are validated (answers due in 3 s), then the 11th resets the connection.
            client.send([apns(t) for t in [*in_flight, faulting]])
            await asyncio.wait_for(client.lost, TIMEOUT)
            assert time.monotonic() - started < 2.0  # died with the connection, not answered late
            return client

        client = asyncio.run(go())
        stats = service.stats
        assert client.status == {} and client.goaway_last is None  # no stream answered, no GOAWAY
        assert stats.faults == {"reset": 1}
        assert all(stats.attempts[t] == 1 for t in [*in_flight, faulting])
        assert dict(service.accepted) == dict.fromkeys(in_flight[:delivered], 1)  # the oldest first
        assert not service.answered and service.accepted[faulting] == 0  # the faulting one: never
        assert service.delivered_unacknowledged == delivered
        assert stats.validated_dropped == 10 - delivered
        assert stats.as_dict()["awaiting_answer"] == 0
        if delivered:
            assert sum(service.accepted.values()) > sum(service.answered.values())


def test_the_delivered_fraction_is_carried_over_from_one_reset_to_the_next():
    with FakePushService(latency=3.0, reset_linger=0.02, reset_delivered_fraction=0.3) as service:

        async def one_reset(batch: list[str], faulting: str) -> None:
            service.inject_fault(faulting, "reset")
            client = await connect(service)
            client.send([apns(t) for t in [*batch, faulting]])
            await asyncio.wait_for(client.lost, TIMEOUT)

        first, second = tokens(5, "a"), tokens(5, "b")
        asyncio.run(one_reset(first, "e" * 64))  # 0.3 × 5 + 0.5 carried = 2.0: 2 delivered
        after_first = sum(service.accepted.values())
        asyncio.run(one_reset(second, "f" * 64))  # 1.5 + 0.0 = 1.5: 1 delivered, 0.5 carried
        assert after_first == 2 and dict(service.accepted) == {first[0]: 1, first[1]: 1, second[0]: 1}
        assert service.stats.validated_dropped == 7


@pytest.mark.parametrize(("fraction", "delivered"), [(None, 4), (0.0, 1)])
def test_delivered_reset_delivers_the_faulting_request_then_drops_the_connection(fraction, delivered):
    in_flight, faulting = tokens(3), "f" * 64
    with FakePushService(latency=3.0, reset_linger=0.05, reset_delivered_fraction=fraction) as service:
        service.inject_fault(faulting, "delivered_reset")

        async def go() -> RawH2:
            client = await connect(service)
            client.send([apns(t) for t in [*in_flight, faulting]])
            await asyncio.wait_for(client.lost, TIMEOUT)
            return client

        client = asyncio.run(go())
        assert client.status == {}
        assert service.stats.faults == {"delivered_reset": 1}
        assert service.accepted[faulting] == 1 and not service.answered  # delivered, never answered
        assert sum(service.accepted.values()) == service.delivered_unacknowledged == delivered


def test_a_retry_after_delivered_reset_is_a_duplicate_that_a_collapse_id_hides():
    token = "a" * 64
    with FakePushService(reset_linger=0.02) as service:
        service.inject_fault(token, "delivered_reset")

        async def go() -> tuple[BaseException | httpx.Response, httpx.Response]:
            request = apns(token, **{"apns-collapse-id": "order-42"})
            async with h2_client(service) as client:
                try:
                    first: BaseException | httpx.Response = await client.post(
                        request[0], headers=request[1], content=request[2]
                    )
                except httpx.TransportError as exc:
                    first = exc
            async with h2_client(service) as client:  # the retry, on a new connection
                return first, await client.post(request[0], headers=request[1], content=request[2])

        first, retry = asyncio.run(go())
        stats = service.stats.as_dict()
    assert isinstance(first, httpx.TransportError)  # the client cannot know it was delivered
    assert retry.status_code == 200
    assert stats["accepted_total"] == 2 and stats["duplicates"] == 1  # the device got it twice…
    assert stats["answered_total"] == 1 and stats["delivered_unacknowledged"] == 1
    assert stats["shown_total"] == 1 and stats["shown_duplicates"] == 0  # …and showed it once
    assert stats["collapsed_duplicates"] == 1


def test_streams_the_client_cancels_or_abandons_after_validation_may_have_been_delivered():
    with FakePushService(latency=3.0) as service:  # reset_delivered_fraction: 0.5 by default

        async def go() -> None:
            client = await connect(service)
            cancelled = client.send([apns(t) for t in tokens(2, "c")])
            abandoned = client.send([apns(t) for t in tokens(4, "d")])
            assert len(cancelled + abandoned) == 6
            await asyncio.to_thread(wait_until, lambda: service.stats.as_dict()["awaiting_answer"] == 6)
            client.cancel(cancelled)  # RST_STREAM each: 0.5 + 0.5 → the first delivered, not the second
            await asyncio.to_thread(wait_until, lambda: service.stats.as_dict()["awaiting_answer"] == 4)
            client.close()  # the client goes away with 4 in flight: 2 + 0 carried → 2 delivered
            await asyncio.wait_for(client.lost, TIMEOUT)
            await asyncio.to_thread(wait_until, lambda: not service.protocols)

        asyncio.run(go())
        accepted = dict(service.accepted)
        stats = service.stats.as_dict()
    assert accepted == {tokens(2, "c")[0]: 1, tokens(4, "d")[0]: 1, tokens(4, "d")[1]: 1}
    assert stats["delivered_unacknowledged"] == 3 and stats["validated_dropped"] == 3
    assert stats["answered_total"] == 0 and stats["awaiting_answer"] == 0


# -- GOAWAY every N streams ------------------------------------------------------------------------
def test_goaway_every_n_streams_refuses_the_streams_above_last_stream_id():
    names = tokens(5)
    with FakePushService(latency=0.1, goaway_every=3) as service:

        async def go() -> tuple[RawH2, list[int]]:
            client = await connect(service)
            ids = client.send([apns(t) for t in names])
            await asyncio.wait_for(client.lost, TIMEOUT)  # closes once its answers are written
            return client, ids

        client, ids = asyncio.run(go())
        accepted, stats = dict(service.accepted), service.stats.as_dict()
    assert ids == [1, 3, 5, 7, 9]
    assert client.goaway_last == 5
    assert client.log[0] == ("goaway", 5)  # sent on processing the 3rd, before its (late) answers
    assert client.status == {1: 200, 3: 200, 5: 200} and {1, 3, 5} <= client.ended
    assert accepted == dict.fromkeys(names[:3], 1)  # 7 and 9: refused, not delivered
    assert stats["goaways_sent"] == 1 and stats["faults"] == {} and stats["answered_total"] == 3


def test_goaway_every_n_counts_each_connection_separately():
    with FakePushService(goaway_every=2) as service:

        async def go() -> list[RawH2]:
            clients = []
            for batch in (tokens(3, "a"), tokens(3, "b")):
                client = await connect(service)
                client.send([apns(t) for t in batch])
                await asyncio.wait_for(client.lost, TIMEOUT)
                clients.append(client)
            return clients

        first, second = asyncio.run(go())
        accepted, stats = dict(service.accepted), service.stats.as_dict()
    assert first.goaway_last == second.goaway_last == 3
    assert first.status == second.status == {1: 200, 3: 200}
    assert accepted == dict.fromkeys(tokens(3, "a")[:2] + tokens(3, "b")[:2], 1)
    assert stats["goaways_sent"] == 2 and stats["connections_opened"] == 2


# -- APNs provider tokens --------------------------------------------------------------------------
def provider_jwt(kid: str, iss: str = "TEAM123456", age: float = 0.0) -> str:
    return jwt.encode(
        {"iss": iss, "iat": int(time.time() - age)}, SIGNING_KEY, algorithm="ES256", headers={"kid": kid}
    )


def post_sequentially(service: FakePushService, bearers: list[str]) -> list[httpx.Response]:
    async def go() -> list[httpx.Response]:
        async with h2_client(service) as client:
            return [
                await client.post(
                    f"/3/device/{i:064x}", headers={"authorization": f"bearer {b}"}, content=b"{}"
                )
                for i, b in enumerate(bearers)
            ]

    return asyncio.run(go())


def test_one_new_provider_token_per_signing_key_per_refresh_window():
    window = 1.0  # six requests must fit in it, on a busy machine too
    first, second = provider_jwt("KEYAAAAAAA"), provider_jwt("KEYAAAAAAA")
    other_kid, other_iss = provider_jwt("KEYBBBBBBB"), provider_jwt("KEYAAAAAAA", iss="TEAM999999")
    assert first != second  # two tokens for one key, minted at once (ES256 signatures differ)
    with FakePushService(enforce_token_rule=True, token_refresh_window=window) as service:
        started = time.monotonic()
        answers = post_sequentially(service, [first, second, first, other_kid, other_iss, "not-a-jwt"])
        done = time.monotonic()  # after the service took `first` as the key's new token
        assert done - started < window, "too slow to test the window"
        wait_until(lambda: time.monotonic() - done > window, timeout=window + 1)
        later = post_sequentially(service, [second, first])  # the window passed: a new one is fine
        stats = service.stats.as_dict()
    ok, too_many, reused, by_other_kid, by_other_iss, garbage = answers
    assert ok.status_code == reused.status_code == by_other_kid.status_code == by_other_iss.status_code == 200
    assert too_many.status_code == 429 and too_many.json() == {"reason": "TooManyProviderTokenUpdates"}
    assert garbage.status_code == 403 and garbage.json() == {"reason": "InvalidProviderToken"}
    assert [r.status_code for r in later] == [200, 200]  # and the older token stays usable
    assert stats["token_refusals"] == {"TooManyProviderTokenUpdates": 1, "InvalidProviderToken": 1}
    assert stats["accepted_total"] == 6 and stats["jwts_seen"] == 5


def test_a_token_older_than_token_max_age_is_expired():
    fresh, old = provider_jwt("KEYAAAAAAA"), provider_jwt("KEYCCCCCCC", age=3700)
    with FakePushService(enforce_token_rule=True) as service:
        expired, ok = post_sequentially(service, [old, fresh])
        refusals, accepted = dict(service.stats.token_refusals), sum(service.accepted.values())
    assert expired.status_code == 403 and expired.json() == {"reason": "ExpiredProviderToken"}
    assert ok.status_code == 200 and refusals == {"ExpiredProviderToken": 1} and accepted == 1
    with FakePushService(token_max_age=60) as service:  # the age limit is an option
        (expired,) = post_sequentially(service, [provider_jwt("KEYAAAAAAA", age=120)])
    assert expired.status_code == 403 and expired.json()["reason"] == "ExpiredProviderToken"


def test_by_default_several_new_tokens_per_key_are_accepted_but_expired_ones_are_not():
    # Several worker processes mint their own token for one key at once (the integration tests
    # do): the per-key refresh rule is opt-in. Token expiry is always checked; non-JWT bearers pass.
    bearers = [provider_jwt("KEYAAAAAAA"), provider_jwt("KEYAAAAAAA"), "jwt-one", provider_jwt("K", age=4000)]
    with FakePushService() as service:
        statuses = [r.status_code for r in post_sequentially(service, bearers)]
    with FakePushService(token_max_age=None) as service:
        (no_limit,) = post_sequentially(service, bearers[3:])
    assert statuses == [200, 200, 200, 403] and no_limit.status_code == 200


# -- collapse ids ----------------------------------------------------------------------------------
def fcm(token: str, **message: object) -> Request:
    body = json.dumps({"message": {"token": token, **message}}).encode()
    return FCM_PATH, {"authorization": "Bearer fake-1"}, body


def test_shown_counts_distinct_collapse_ids_plus_pushes_without_one():
    device, phone, browser = "a" * 64, "fcm-token", "sub-1"
    requests = [
        apns(device, **{"apns-collapse-id": "score"}),
        apns(device, **{"apns-collapse-id": "score"}),
        apns(device, **{"apns-collapse-id": "news"}),
        apns(device),
        apns(device),
        fcm(phone, android={"collapse_key": "score"}),
        fcm(phone, android={"collapse_key": "score"}),
        fcm(phone, apns={"headers": {"apns-collapse-id": "news"}}),
        fcm(phone, apns={"headers": {"apns-collapse-id": "news"}}),
        fcm(phone),
        ("/wp/" + browser, {**WEBPUSH_HEADERS, "topic": "score"}, b"x"),
        ("/wp/" + browser, {**WEBPUSH_HEADERS, "topic": "score"}, b"x"),
        ("/wp/" + browser, WEBPUSH_HEADERS, b"x"),
    ]
    with FakePushService() as service:

        async def go() -> list[int]:
            async with h2_client(service) as client:
                return [
                    (await client.post(path, headers=headers, content=body)).status_code
                    for path, headers, body in requests
                ]

        statuses = asyncio.run(go())
        accepted, shown = dict(service.accepted), dict(service.shown)
        stats = service.stats.as_dict()
    assert all(200 <= s < 300 for s in statuses), statuses
    assert accepted == {device: 5, phone: 5, browser: 3}
    assert shown == {device: 4, phone: 3, browser: 2}
    assert stats["collapsed_duplicates"] == 1 + 2 + 1 == service.collapsed_duplicates
    assert stats["shown_total"] == 9 and stats["shown_duplicates"] == 3


def test_refused_and_failed_pushes_are_not_shown():
    with FakePushService() as service:
        service.inject_fault("a" * 64, "503")

        async def go() -> list[int]:
            async with h2_client(service) as client:
                return [
                    (await client.post(path, headers=headers, content=body)).status_code
                    for path, headers, body in [
                        apns("a" * 64, **{"apns-collapse-id": "x"}),
                        apns("dead" + "0" * 60, **{"apns-collapse-id": "x"}),
                    ]
                ]

        statuses = asyncio.run(go())
        shown, stats = dict(service.shown), service.stats.as_dict()
    assert statuses == [503, 410] and shown == {} and stats["collapsed_duplicates"] == 0


# -- process mode: the same counters over /_stats, cleared by /_reset -------------------------------
def test_process_mode_options_stats_detail_and_reset(tmp_path):
    cert = tmp_path / "ca.pem"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.fakepush",
            "--port",
            "0",
            "--cert-out",
            str(cert),
            "--enforce-token-rule",
            "--goaway-every",
            "50",
            "--reset-delivered-fraction",
            "1.0",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("fakepush listening on https://127.0.0.1:"), line
        url = line.split()[3]
        first, second = provider_jwt("KEYAAAAAAA"), provider_jwt("KEYAAAAAAA")
        with httpx.Client(verify=ssl.create_default_context(cafile=str(cert)), base_url=url) as client:

            def push(bearer: str, collapse: str) -> int:
                headers = {"authorization": f"bearer {bearer}", "apns-collapse-id": collapse}
                return client.post("/3/device/" + "a" * 64, headers=headers, content=b"{}").status_code

            statuses = [push(first, "x"), push(first, "x"), push(second, "y")]  # over HTTP/1.1
            stats = client.get("/_stats?detail=1").json()
            reset = client.post("/_reset").json()
            after_reset = client.get("/_stats").json()
            retried = push(second, "y")  # /_reset also forgot the key's token history
    finally:
        process.terminate()
        process.wait(5)
    token = "a" * 64
    assert statuses == [200, 200, 429]
    assert (
        stats["accepted"] == {token: 2} and stats["answered"] == {token: 2} and stats["shown"] == {token: 1}
    )
    assert stats["attempts"] == {} or stats["attempts"] == {token: 3}
    assert stats["duplicates"] == 1 and stats["shown_duplicates"] == 0 and stats["collapsed_duplicates"] == 1
    assert stats["token_refusals"] == {"TooManyProviderTokenUpdates": 1} and stats["goaways_sent"] == 0
    assert stats["delivered_unacknowledged"] == 0 and stats["awaiting_answer"] == 0
    assert reset == {"reset": True}
    assert (
        after_reset["accepted_total"]
        == after_reset["shown_total"]
        == after_reset["collapsed_duplicates"]
        == 0
    )
    assert after_reset["token_refusals"] == {} and "accepted" not in after_reset  # detail only on request
    assert retried == 200
