"""HTTP CONNECT proxies for the HTTP/2 transport: which proxy an origin goes through, and the tunnel.

Behind an egress proxy nothing reaches the push services directly. The transport then opens a TCP
connection to the proxy, asks it for a tunnel (``CONNECT host:port HTTP/1.1``, with
``Proxy-Authorization: Basic …`` when the proxy URL carries credentials), reads its answer and, on a
2xx, starts TLS (ALPN ``h2``) with the service over that same socket. Anything else is an
``httpx.ConnectError`` naming the proxy's status: no byte reached the service, so it is safe to resend.

Which proxy (:func:`proxy_for`): the ``proxy`` option when given; otherwise, with ``trust_env``, the
environment as ``urllib.request`` (and httpx's ``trust_env``) read it: ``https_proxy``/``HTTPS_PROXY``
for ``https`` origins (``http_proxy`` for ``http``), else ``all_proxy``; ``no_proxy``/``NO_PROXY``
(host names, domain suffixes, ``host:port``, ``*``) bypasses it. Only ``http://`` proxies are supported
(TLS to the service runs inside the tunnel either way).
"""

from __future__ import annotations

import asyncio
import base64
import socket
import urllib.parse
import urllib.request

import httpx

__all__ = ["MAX_ANSWER", "Proxy", "proxy_for"]

MAX_ANSWER = 65536  # bytes of a proxy's answer to CONNECT we are willing to read


class Proxy:
    """One HTTP proxy: where it is, its credentials, and how to open a tunnel through it."""

    __slots__ = ("authorization", "host", "port", "url")

    def __init__(self, url: str) -> None:
        if "://" not in url:
            url = "http://" + url  # "proxy:3128", as curl and httpx accept it
        parts = urllib.parse.urlsplit(url)
        if parts.scheme.lower() != "http":
            raise ValueError(
                f"unsupported proxy {self.redact(parts)!r}: only http:// (CONNECT) proxies are supported"
            )
        if not parts.hostname:
            raise ValueError(f"proxy URL {self.redact(parts)!r} has no host")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.authorization: bytes | None = None
        if parts.username is not None:
            user = urllib.parse.unquote(parts.username)
            password = urllib.parse.unquote(parts.password or "")
            self.authorization = b"Basic " + base64.b64encode(f"{user}:{password}".encode())
        self.url = self.redact(parts)

    @staticmethod
    def redact(parts: urllib.parse.SplitResult) -> str:
        """The proxy URL without credentials, for messages and logs."""
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        try:
            port = parts.port
        except ValueError:
            port = None
        return f"{parts.scheme}://{host}" + (f":{port}" if port else "")

    def __repr__(self) -> str:
        return f"<Proxy {self.url}>"

    def connect_request(self, host: str, port: int) -> bytes:
        authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}"]
        head = "\r\n".join(lines).encode("ascii")
        if self.authorization is not None:
            head += b"\r\nProxy-Authorization: " + self.authorization
        return head + b"\r\n\r\n"

    async def tunnel(self, loop: asyncio.AbstractEventLoop, host: str, port: int) -> socket.socket:
        """A connected socket through which bytes go to ``host:port``; raises ``httpx.ConnectError``.

        Nothing but the CONNECT request is written: a failure here never reaches the service.
        """
        try:
            infos = await loop.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise httpx.ConnectError(f"cannot resolve the proxy {self.url}: {exc}") from exc
        sock: socket.socket | None = None
        error: OSError | None = None
        for family, kind, proto, _name, address in infos:
            candidate = socket.socket(family, kind, proto)
            candidate.setblocking(False)
            try:
                await loop.sock_connect(candidate, address)
            except BaseException as exc:
                candidate.close()
                if not isinstance(exc, OSError):
                    raise
                error = exc
                continue
            sock = candidate
            break
        if sock is None:
            raise httpx.ConnectError(f"cannot connect to the proxy {self.url}: {error}")
        try:
            await loop.sock_sendall(sock, self.connect_request(host, port))
            answer = b""
            while b"\r\n\r\n" not in answer:
                chunk = await loop.sock_recv(sock, 4096)
                if not chunk:
                    raise httpx.ConnectError(
                        f"the proxy {self.url} closed the connection before answering CONNECT {host}:{port}"
                    )
                answer += chunk
                if len(answer) > MAX_ANSWER:
                    raise httpx.ConnectError(f"the proxy {self.url} sent an oversized answer to CONNECT")
            head, _, rest = answer.partition(b"\r\n\r\n")
            status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
            version, _, status = status_line.partition(" ")
            code = status[:3]
            if not version.startswith("HTTP/") or not code.isdigit():
                raise httpx.ConnectError(f"the proxy {self.url} answered CONNECT with {status_line[:100]!r}")
            if not 200 <= int(code) < 300:
                raise httpx.ConnectError(
                    f"the proxy {self.url} refused CONNECT {host}:{port}: {status.strip()[:100]}"
                )
            if rest:  # the service speaks only after our TLS ClientHello: this cannot be its bytes
                raise httpx.ConnectError(f"the proxy {self.url} sent data after its CONNECT answer")
        except OSError as exc:
            sock.close()
            raise httpx.ConnectError(
                f"the proxy {self.url} failed during CONNECT {host}:{port}: {exc}"
            ) from exc
        except BaseException:
            sock.close()
            raise
        return sock


def proxy_for(
    scheme: str, host: str, port: int | None, *, proxy: str | None = None, trust_env: bool = True
) -> str | None:
    """The proxy URL requests to ``scheme://host:port`` go through, or None to connect directly.

    ``proxy`` (an option) wins; otherwise, with ``trust_env``, the environment (see the module doc).
    """
    if proxy:
        return proxy
    if not trust_env:
        return None
    proxies = urllib.request.getproxies()
    url = proxies.get(scheme) or proxies.get("all")
    if not url:
        return None
    target = host if port is None else f"{host}:{port}"
    if urllib.request.proxy_bypass_environment(target, proxies):  # type: ignore[attr-defined]
        return None
    return url
