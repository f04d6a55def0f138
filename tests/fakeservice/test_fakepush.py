"""The local fake push service itself, checked with httpx's own clients (not our transport).

The backends' integration tests and the benchmarks trust its answers and its counters, so each
route, fault and counter is pinned here.
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
import pytest

from bench.fakepush import ALL_FAULTS, FakePushService
from bench.reference_client import _Conn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def client_context(service: FakePushService) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=service.ca_file)


def h2_client(service: FakePushService) -> httpx.AsyncClient:
    return httpx.AsyncClient(http2=True, verify=client_context(service), base_url=service.url, timeout=5)


def post_all(service: FakePushService, requests: list[tuple[str, dict, bytes]]) -> list[httpx.Response]:
    """POST each (path, headers, body) concurrently over HTTP/2."""

    async def go() -> list[httpx.Response]:
        async with h2_client(service) as client:
            return list(
                await asyncio.gather(
                    *(client.post(path, headers=headers, content=body) for path, headers, body in requests)
                )
            )

    return asyncio.run(go())


APNS_AUTH = {"authorization": "bearer jwt-one"}
FCM_PATH = "/v1/projects/demo/messages:send"
WEBPUSH_HEADERS = {"ttl": "60", "content-encoding": "aes128gcm", "authorization": "vapid t=abc,k=def"}


def fcm(token: str) -> tuple[str, dict, bytes]:
    return FCM_PATH, {"authorization": "Bearer fake-1"}, json.dumps({"message": {"token": token}}).encode()


def test_apns_routes():
    with FakePushService() as service:
        ok, echoed, dead, bad, unauthorized, other_jwt = post_all(
            service,
            [
                ("/3/device/" + "a" * 64, APNS_AUTH, b"{}"),
                ("/3/device/" + "b" * 64, {**APNS_AUTH, "apns-id": "MY-ID"}, b"{}"),
                ("/3/device/dead" + "0" * 60, APNS_AUTH, b"{}"),
                ("/3/device/bad" + "0" * 61, APNS_AUTH, b"{}"),
                ("/3/device/" + "c" * 64, {}, b"{}"),
                ("/3/device/" + "d" * 64, {"authorization": "bearer jwt-two"}, b"{}"),
            ],
        )
        stats = service.stats
        assert ok.status_code == 200 and len(ok.headers["apns-id"]) == 36 and ok.http_version == "HTTP/2"
        assert echoed.headers["apns-id"] == "MY-ID"
        assert dead.status_code == 410 and dead.json()["reason"] == "Unregistered"
        assert abs(dead.json()["timestamp"] / 1000 - time.time()) < 60
        assert bad.status_code == 400 and bad.json()["reason"] == "BadDeviceToken"
        assert unauthorized.status_code == 403
        assert other_jwt.status_code == 200
        assert service.jwts_seen == {"jwt-one", "jwt-two"}
        assert dict(service.accepted) == {"a" * 64: 1, "b" * 64: 1, "d" * 64: 1}
        assert service.requests_total == 6 and stats.status_counts == {200: 3, 410: 1, 400: 1, 403: 1}


def test_fcm_routes():
    with FakePushService() as service:
        ok, dead, unauthenticated, no_token = post_all(
            service,
            [
                fcm("tok-1"),
                fcm("dead-1"),
                (FCM_PATH, {}, json.dumps({"message": {"token": "tok-2"}}).encode()),
                (FCM_PATH, {"authorization": "Bearer x"}, b"{}"),
            ],
        )
        accepted = dict(service.accepted)
    assert ok.status_code == 200 and ok.json()["name"].startswith("projects/demo/messages/")
    error = dead.json()["error"]
    assert dead.status_code == 404 and error["status"] == "NOT_FOUND"
    assert error["message"] == "Requested entity was not found."
    assert error["details"] == [
        {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "UNREGISTERED"}
    ]
    assert unauthenticated.status_code == 401 and no_token.status_code == 400
    assert accepted == {"tok-1": 1}


def test_oauth_token_endpoint_over_http11_counts_calls():
    with FakePushService() as service, httpx.Client(verify=client_context(service)) as client:
        first = client.post(f"{service.url}/token", data={"grant_type": "jwt-bearer", "assertion": "x"})
        second = client.post(f"{service.url}/token", data={"grant_type": "jwt-bearer", "assertion": "x"})
        count = service.token_requests
    assert first.http_version == "HTTP/1.1"
    assert first.json() == {"access_token": "fake-1", "expires_in": 3600, "token_type": "Bearer"}
    assert second.json()["access_token"] == "fake-2" and count == 2


def test_web_push_routes():
    with FakePushService() as service:
        created, gone, no_ttl, no_vapid = post_all(
            service,
            [
                ("/wp/sub-1", WEBPUSH_HEADERS, b"\x00" * 100),
                ("/wp/dead-1", WEBPUSH_HEADERS, b"\x00" * 100),
                ("/wp/sub-2", {k: v for k, v in WEBPUSH_HEADERS.items() if k != "ttl"}, b"x"),
                ("/wp/sub-3", {**WEBPUSH_HEADERS, "authorization": "WebPush x"}, b"x"),
            ],
        )
        accepted = dict(service.accepted)
    assert created.status_code == 201 and created.headers["location"].startswith("/wp/messages/")
    assert gone.status_code == 410 and no_ttl.status_code == 400 and no_vapid.status_code == 401
    assert accepted == {"sub-1": 1}


@pytest.mark.parametrize("kind", ["429", "500", "503"])
def test_http_faults_hit_the_first_attempt_only_by_default(kind):
    with FakePushService(fault_rate=1.0, faults=(kind,)) as service:
        apns_first, fcm_first = post_all(service, [("/3/device/" + "a" * 64, APNS_AUTH, b"{}"), fcm("tok")])
        apns_again, fcm_again = post_all(service, [("/3/device/" + "a" * 64, APNS_AUTH, b"{}"), fcm("tok")])
        faults, accepted = dict(service.stats.faults), dict(service.accepted)
    assert apns_first.status_code == fcm_first.status_code == int(kind)
    assert apns_again.status_code == fcm_again.status_code == 200
    assert faults == {kind: 2} and accepted == {"a" * 64: 1, "tok": 1}
    if kind == "429":
        assert apns_first.headers["retry-after"] == "1" and apns_first.json()["reason"] == "TooManyRequests"
        error = fcm_first.json()["error"]
        assert (
            error["status"] == "RESOURCE_EXHAUSTED" and error["details"][0]["errorCode"] == "QUOTA_EXCEEDED"
        )


def test_faults_on_every_attempt_when_asked():
    with FakePushService(fault_rate=1.0, faults=("503",), fault_only_first_attempt=False) as service:
        statuses = [
            r.status_code for r in post_all(service, [("/3/device/" + "a" * 64, APNS_AUTH, b"{}")] * 3)
        ]
    assert statuses == [503] * 3


def test_fault_draws_are_reproducible_with_a_seed():
    def statuses(seed: int) -> list[int]:
        with FakePushService(fault_rate=0.5, seed=seed, faults=("429", "500", "503")) as service:

            async def go() -> list[int]:
                async with h2_client(service) as client:
                    return [
                        (
                            await client.post(f"/3/device/{i:064x}", headers=APNS_AUTH, content=b"{}")
                        ).status_code
                        for i in range(40)
                    ]

            return asyncio.run(go())

    first, again, other = statuses(7), statuses(7), statuses(8)
    assert first == again and first != other
    assert {200, 429, 500, 503} >= set(first) and 200 in first and len(set(first)) > 1


def test_unknown_fault_kinds_are_refused():
    with pytest.raises(ValueError, match="unknown fault kinds"):
        FakePushService(faults=("teapot",))
    assert set(ALL_FAULTS) == {"429", "500", "503", "goaway", "reset"}


def test_latency_delays_each_stream_without_blocking_the_others():
    with FakePushService(latency=0.3) as service:
        started = time.monotonic()
        responses = post_all(service, [("/3/device/" + f"{i:064x}", APNS_AUTH, b"{}") for i in range(30)])
        elapsed = time.monotonic() - started
    assert all(r.status_code == 200 for r in responses)
    # Concurrent, not 30 × 0.3 s = 9 s one after another: a third of that leaves room for a busy machine.
    assert 0.3 <= elapsed < 3.0


def test_reset_fault_answers_nothing_and_processes_nothing():
    with FakePushService(fault_rate=1.0, faults=("reset",), reset_linger=0.05) as service:

        async def go() -> BaseException | httpx.Response:
            async with h2_client(service) as client:
                try:
                    return await client.post("/3/device/" + "a" * 64, headers=APNS_AUTH, content=b"{}")
                except httpx.TransportError as exc:
                    return exc

        outcome = asyncio.run(go())
        stats = service.stats
        assert isinstance(outcome, httpx.TransportError)
        assert stats.faults == {"reset": 1} and stats.attempts["a" * 64] == 1 and not service.accepted


def test_advertised_max_concurrent_streams():
    with FakePushService(max_concurrent_streams=7) as service:

        async def go() -> int:
            loop = asyncio.get_running_loop()
            context = client_context(service)
            context.set_alpn_protocols(["h2"])
            transport, protocol = await loop.create_connection(_Conn, "127.0.0.1", service.port, ssl=context)
            await asyncio.wait_for(protocol.ready, 5)
            transport.close()
            return protocol.conn.remote_settings.max_concurrent_streams

        assert asyncio.run(go()) == 7


def test_stats_and_reset_routes_and_reset_counts():
    with FakePushService() as service:
        post_all(service, [("/3/device/" + "a" * 64, APNS_AUTH, b"{}")])

        async def control() -> tuple[dict, dict, dict]:
            async with h2_client(service) as client:
                before = (await client.get("/_stats")).json()
                reset = (await client.post("/_reset")).json()
                after = (await client.get("/_stats")).json()
                return before, reset, after

        before, reset, after = asyncio.run(control())
        with httpx.Client(verify=client_context(service)) as client:  # HTTP/1.1 too
            h1 = client.get(f"{service.url}/_stats").json()
        post_all(service, [("/3/device/" + "b" * 64, APNS_AUTH, b"{}")])
        assert service.requests_total == 1
        service.reset_counts()
        assert service.requests_total == 0 and not service.accepted
    assert before["accepted_total"] == 1 and before["requests_total"] == 1 and before["duplicates"] == 0
    assert before["status_counts"] == {"200": 1} and before["jwts_seen"] == 1
    assert reset == {"reset": True}
    assert after["accepted_total"] == 0 and after["requests_total"] == 0  # control routes not counted
    assert h1["requests_total"] == 0


def test_the_certificate_is_valid_for_localhost_and_127_0_0_1():
    with FakePushService() as service, httpx.Client(verify=client_context(service)) as client:
        by_ip = client.get(f"https://127.0.0.1:{service.port}/_stats")
        by_name = client.get(f"https://localhost:{service.port}/_stats")
        ca_file = service.ca_file
        assert os.path.exists(ca_file)
    assert by_ip.status_code == by_name.status_code == 200
    assert not os.path.exists(ca_file)  # stop() cleans up


def test_runs_as_a_separate_process(tmp_path):
    cert = tmp_path / "ca.pem"
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.fakepush", "--port", "0", "--latency", "0.01", "--cert-out", str(cert)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("fakepush listening on https://127.0.0.1:"), line
        url = line.split()[3]
        context = ssl.create_default_context(cafile=str(cert))
        with httpx.Client(verify=context, base_url=url) as client:
            pushed = client.post("/3/device/" + "a" * 64, headers=APNS_AUTH, content=b"{}")
            stats = client.get("/_stats").json()
    finally:
        process.terminate()
        process.wait(5)
    assert pushed.status_code == 200
    assert stats["accepted_total"] == 1 and stats["accepted_tokens"] == 1 and stats["connections_opened"] == 1
