"""Which webhook URLs we may contact: the Web Push endpoint rules, checked after DNS resolution.

A webhook URL is typed by a person, so it is attacker-controlled input: without checks it makes the
server POST to its own network (SSRF). :func:`validate_url` (static) runs at registration, and
:func:`check_addresses` after resolving the host, at registration (:func:`resolve_sync`) and again at
every send (the webhook backend, :func:`resolve`), so a name re-pointed at an internal address
after registration is refused too.

Rules (those of :mod:`~django_push.backends.webpush_endpoints`, with any public host allowed):

* ``https`` only; ASCII only, no whitespace, control characters or backslashes; no user information;
  no fragment; the host a DNS name of valid labels or an IP literal;
* every address the host resolves to must be global: no private, loopback, link-local, shared
  (100.64/10), reserved, multicast or unspecified address, IPv4-mapped ones included;
* except for hosts listed exactly in ``DJANGO_PUSH["WEBHOOK_ALLOWED_PRIVATE_HOSTS"]``
  (``"127.0.0.1:8443"``, ``"hooks.internal"``; same syntax as ``WEBPUSH_ALLOWED_HOSTS``, without
  wildcards' reach into IP literals), e.g. a local receiver in tests.

Redirects are never followed (the transports do not), so a 3xx cannot lead elsewhere. The transport
resolves the name again when it connects: a DNS answer changed within those milliseconds is not seen.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from urllib.parse import urlsplit

from django_push.backends.webpush_endpoints import (
    _FORBIDDEN,
    DEFAULT_PORT,
    MAX_ENDPOINT_LENGTH,
    AllowedHost,
    _parse_ip,
    _valid_dns_name,
    parse_allowed_host,
)
from django_push.exceptions import InvalidTarget, PushConfigurationError

__all__ = ["Resolver", "check_addresses", "parse_private_hosts", "resolve", "resolve_sync", "validate_url"]

SETTING = 'DJANGO_PUSH["WEBHOOK_ALLOWED_PRIVATE_HOSTS"]'
#: ``async (host, port) -> [address, …]``: the backend's ``resolver`` option (the test seam).
Resolver = Callable[[str, int], Awaitable[list[str]]]


def parse_private_hosts(entries: Iterable[str]) -> tuple[AllowedHost, ...]:
    """Parse the exceptions list; PushConfigurationError names the setting and the bad entry."""
    if isinstance(entries, str):
        raise PushConfigurationError(f"{SETTING} must be a list such as ['127.0.0.1:8443'], not a string")
    try:
        return tuple(parse_allowed_host(entry) for entry in entries)
    except PushConfigurationError as exc:
        raise PushConfigurationError(f"{SETTING}: {exc}".replace("WEBPUSH_ALLOWED_HOSTS ", "")) from exc


def validate_url(url: str) -> tuple[str, str, int]:
    """``(normalized url, host, port)`` for a URL we may try to contact, else InvalidTarget."""
    if not isinstance(url, str) or not url:
        raise InvalidTarget("The webhook URL must be a non-empty URL.")
    if len(url) > MAX_ENDPOINT_LENGTH:
        raise InvalidTarget(f"The webhook URL is longer than {MAX_ENDPOINT_LENGTH} characters.")
    if not url.isascii() or _FORBIDDEN.search(url):
        raise InvalidTarget(
            "The webhook URL must be plain ASCII without spaces, control characters or backslashes."
        )
    try:
        parts = urlsplit(url)
        explicit_port = parts.port
    except ValueError as exc:
        raise InvalidTarget(f"The webhook URL is not a valid URL: {exc}.") from exc
    if parts.scheme.lower() != "https":
        raise InvalidTarget("The webhook URL must use https.")
    if "@" in parts.netloc:
        raise InvalidTarget("The webhook URL must not contain user information (user@host).")
    if parts.fragment or url.endswith("#"):
        raise InvalidTarget("The webhook URL must not contain a fragment.")
    host = (parts.hostname or "").lower()
    if not host:
        raise InvalidTarget("The webhook URL has no host.")
    address = _parse_ip(host)
    if address is None and not _valid_dns_name(host):
        raise InvalidTarget(f"The webhook URL host {host!r} is not a valid DNS name.")
    canonical = str(address) if address is not None else host
    port = DEFAULT_PORT if explicit_port is None else explicit_port
    netloc = f"[{canonical}]" if address is not None and address.version == 6 else canonical
    if port != DEFAULT_PORT:
        netloc += f":{port}"
    query = f"?{parts.query}" if parts.query else ""
    return f"https://{netloc}{parts.path or '/'}{query}", canonical, port


def _public(text: str) -> bool:
    address = ipaddress.ip_address(text.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def check_addresses(host: str, port: int, addresses: Sequence[str], allowed: Sequence[AllowedHost]) -> None:
    """Refuse unless every resolved address is public, or the host is listed as an exception."""
    is_ip = _parse_ip(host) is not None
    if any(entry.matches(host, port, is_ip) for entry in allowed):
        return
    if not addresses:
        raise InvalidTarget(f"The webhook URL host {host!r} does not resolve to any address.")
    private = sorted({a for a in addresses if not _public(a)})
    if private:
        raise InvalidTarget(
            f"The webhook URL host {host!r} resolves to a private, loopback, link-local or reserved "
            f"address ({', '.join(private)}); only hosts listed in {SETTING} may."
        )


def _addresses(infos: list[tuple]) -> list[str]:
    return sorted({str(info[4][0]) for info in infos})


def resolve_sync(host: str, port: int) -> list[str]:
    """The host's addresses (an IP literal is its own); InvalidTarget when it does not resolve."""
    if _parse_ip(host) is not None:
        return [host]
    try:
        return _addresses(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
    except OSError as exc:
        raise InvalidTarget(f"The webhook URL host {host!r} does not resolve: {exc}.") from exc


async def resolve(host: str, port: int) -> list[str]:
    """:func:`resolve_sync` without blocking the push loop."""
    if _parse_ip(host) is not None:
        return [host]
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise InvalidTarget(f"The webhook URL host {host!r} does not resolve: {exc}.") from exc
    return _addresses(infos)
