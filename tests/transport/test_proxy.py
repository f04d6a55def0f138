"""HTTP CONNECT proxies: sends go through the proxy (from the option or HTTPS_PROXY), NO_PROXY
bypasses it, a refusal is a ConnectError naming the proxy's status. Everything on loopback."""

from __future__ import annotations

import asyncio
import base64
import contextlib

import httpx
import pytest

from bench.fakepush import FakePushService
from django_push.backends.apns import APNsBackend
from django_push.backends.apns_tokens import provider_tokens
from django_push.backends.base import result_for_exception
from django_push.message import PushMessage, Target
from django_push.results import DeliveryStatus
from django_push.transport.h2 import H2Transport
from django_push.transport.proxy import Proxy, proxy_for

from ..backends.fixtures import KEY_PEM
from .test_h2transport import apns, exchange, tokens

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture(autouse=True)
def _no_proxy_environment(monkeypatch):
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.delenv("REQUEST_METHOD", raising=False)
    provider_tokens.clear()
    yield
    provider_tokens.clear()


class ConnectProxy:
    """A small CONNECT proxy on 127.0.0.1: records each CONNECT target and its Proxy-Authorization,
    answers ``status`` (200: then pipes bytes both ways, to loopback targets only)."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.targets: list[str] = []
        self.authorizations: list[str | None] = []
        self.server: asyncio.Server | None = None
        self.url = ""
        self.tasks: set[asyncio.Task] = set()

    async def __aenter__(self) -> ConnectProxy:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            request_line, *lines = head.split("\r\n")
            method, target, _version = request_line.split(" ")
            headers = dict(line.split(": ", 1) for line in lines if line)
            headers = {k.lower(): v for k, v in headers.items()}
            self.targets.append(target)
            self.authorizations.append(headers.get("proxy-authorization"))
            host, _, port = target.rpartition(":")
            if method != "CONNECT" or host != "127.0.0.1":  # loopback only
                writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                return
            if self.status != 200:
                writer.write(
                    f"HTTP/1.1 {self.status} Proxy Authentication Required\r\n"
                    'Proxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\n\r\n'.encode()
                )
                return
            upstream_reader, upstream_writer = await asyncio.open_connection(host, int(port))
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await asyncio.gather(
                self.pipe(reader, upstream_writer), self.pipe(upstream_reader, writer), return_exceptions=True
            )
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.tasks.discard(task)
            with contextlib.suppress(Exception):
                await writer.drain()
            writer.close()

    @staticmethod
    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()


def run_through(service: FakePushService, proxy: ConnectProxy, names: list[str], **options):
    """Send APNs-shaped requests through an H2Transport while ``proxy`` listens."""

    async def go() -> list[httpx.Response | Exception]:
        async with proxy:
            kwargs = {"proxy": proxy.url, **options} if options.pop("use_option", True) else options
            transport = H2Transport(verify=service.ca_file, timeout=httpx.Timeout(10, connect=5), **kwargs)

            async def one(name: str) -> httpx.Response | Exception:
                try:
                    return await exchange(transport, apns(service.url, name))
                except Exception as exc:
                    return exc

            try:
                return list(await asyncio.gather(*(one(n) for n in names)))
            finally:
                await transport.aclose()

    return asyncio.run(go())


def test_the_proxy_option_tunnels_every_connection():
    names = tokens(50)
    proxy = ConnectProxy()
    with FakePushService() as service:
        results = run_through(service, proxy, names, max_connections=2)
        accepted = dict(service.accepted)
        opened = service.connections_opened
    assert [getattr(r, "status_code", r) for r in results] == [200] * 50
    assert all(r.extensions["http_version"] == b"HTTP/2" for r in results)  # type: ignore[union-attr]
    assert accepted == dict.fromkeys(names, 1)
    assert proxy.targets and set(proxy.targets) == {f"127.0.0.1:{service.port}"}
    assert len(proxy.targets) == opened  # every connection the service saw came through the proxy
    assert proxy.authorizations == [None] * len(proxy.targets)


def test_credentials_in_the_proxy_url_become_proxy_authorization():
    proxy = ConnectProxy()
    with FakePushService() as service:

        async def go() -> httpx.Response:
            async with proxy:
                url = proxy.url.replace("http://", "http://push%40ops:s3cr%3At@")
                transport = H2Transport(verify=service.ca_file, proxy=url)
                try:
                    return await exchange(transport, apns(service.url, "a" * 64))
                finally:
                    await transport.aclose()

        response = asyncio.run(go())
    assert response.status_code == 200
    assert proxy.authorizations == ["Basic " + base64.b64encode(b"push@ops:s3cr:t").decode()]


def test_https_proxy_from_the_environment(monkeypatch):
    proxy = ConnectProxy()
    with FakePushService() as service:

        async def go() -> httpx.Response:
            async with proxy:
                monkeypatch.setenv("HTTPS_PROXY", proxy.url)
                transport = H2Transport(verify=service.ca_file)
                try:
                    return await exchange(transport, apns(service.url, "a" * 64))
                finally:
                    await transport.aclose()

        response = asyncio.run(go())
    assert response.status_code == 200
    assert proxy.targets == [f"127.0.0.1:{service.port}"]


@pytest.mark.parametrize(
    ("no_proxy", "trust_env"), [("127.0.0.1", True), ("localhost,127.0.0.1:*,127.0.0.1", True), ("", False)]
)
def test_no_proxy_and_trust_env_false_bypass_the_environments_proxy(monkeypatch, no_proxy, trust_env):
    proxy = ConnectProxy()
    with FakePushService() as service:

        async def go() -> httpx.Response:
            async with proxy:
                monkeypatch.setenv("https_proxy", proxy.url)
                if no_proxy:
                    monkeypatch.setenv("NO_PROXY", no_proxy)
                transport = H2Transport(verify=service.ca_file, trust_env=trust_env)
                try:
                    return await exchange(transport, apns(service.url, "a" * 64))
                finally:
                    await transport.aclose()

        response = asyncio.run(go())
        accepted = service.accepted["a" * 64]
    assert response.status_code == 200 and accepted == 1
    assert proxy.targets == []  # straight to the service


def test_a_refusing_proxy_is_a_connect_error_naming_its_status():
    proxy = ConnectProxy(status=407)
    with FakePushService() as service:
        results = run_through(service, proxy, tokens(5))
        requests_seen = service.requests_total
        opened = service.connections_opened
    assert all(isinstance(r, httpx.ConnectError) for r in results), results
    assert "407" in str(results[0]) and proxy.url in str(results[0])
    assert (requests_seen, opened) == (0, 0)  # nothing reached the service
    mapped = result_for_exception(results[0])  # type: ignore[arg-type]
    assert mapped is not None and not mapped.ambiguous and not mapped.counts_attempt


def test_the_http11_fallback_goes_through_the_proxy_too():
    proxy = ConnectProxy()
    with FakePushService(alpn=("http/1.1",)) as service:
        results = run_through(service, proxy, tokens(3))
    assert [r.extensions["http_version"] for r in results] == [b"HTTP/1.1"] * 3  # type: ignore[union-attr]
    # Ours (ALPN said no h2), then httpx's own connection for HTTP/1.1: both tunnelled.
    assert len(proxy.targets) >= 2 and set(proxy.targets) == {f"127.0.0.1:{service.port}"}


def test_the_backend_option_reaches_the_transport():
    names = tokens(20)
    proxy = ConnectProxy()
    with FakePushService() as service:

        async def go():
            async with proxy:
                backend = APNsBackend(
                    alias="apns",
                    team_id="TEAM123456",
                    key_id="KEY1234567",
                    key=KEY_PEM,
                    topic="com.example.app",
                    production_url=service.url,
                    sandbox_url=service.url,
                    verify=service.ca_file,
                    proxy=proxy.url,
                )
                try:
                    return await backend.asend(PushMessage(title="hi"), [Target(n) for n in names])
                finally:
                    await backend.aclose()

        results = asyncio.run(go())
        accepted = dict(service.accepted)
    assert [r.status for r in results] == [DeliveryStatus.SENT] * 20
    assert accepted == dict.fromkeys(names, 1)
    assert proxy.targets and set(proxy.targets) == {f"127.0.0.1:{service.port}"}


def test_proxy_urls_and_environment_rules(monkeypatch):
    with pytest.raises(ValueError, match="only http://"):
        H2Transport(proxy="socks5://127.0.0.1:1080")
    assert Proxy("127.0.0.1:3128").url == "http://127.0.0.1:3128"
    assert Proxy("http://u:p@[::1]").url == "http://[::1]"  # no credentials in messages
    assert (
        Proxy("http://[::1]:8080").connect_request("::1", 443).startswith(b"CONNECT [::1]:443 HTTP/1.1\r\n")
    )
    assert proxy_for("https", "api.push.apple.com", 443) is None
    monkeypatch.setenv("HTTPS_PROXY", "http://egress:3128")
    monkeypatch.setenv("NO_PROXY", ".internal.example,push.example.net:8443")
    assert proxy_for("https", "api.push.apple.com", 443) == "http://egress:3128"
    assert proxy_for("https", "fcm.internal.example", 443) is None
    assert proxy_for("https", "push.example.net", 8443) is None
    assert proxy_for("https", "push.example.net", 443) == "http://egress:3128"
    assert proxy_for("https", "api.push.apple.com", 443, trust_env=False) is None
    assert proxy_for("https", "x.internal.example", 443, proxy="http://p:1") == "http://p:1"
