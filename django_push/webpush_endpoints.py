"""Which Web Push endpoints we may contact: an allow-list of push services, and no SSRF.

A Web Push endpoint comes from a browser, so it is attacker-controlled input: without checks a user
could make the server POST to an internal address. Rules (checked at registration and again at send):

* ``https`` only; no userinfo; an explicit port only if the allow-list entry names it (``host:port``);
* the host must match an allow-list entry on a dot boundary: ``fcm.googleapis.com`` matches only
  itself, ``*.notify.windows.com`` matches ``wns2-par02p.notify.windows.com`` but not
  ``evilnotify.windows.com`` nor ``notify.windows.com`` itself;
* IP literals and private, loopback, link-local or reserved addresses are refused unless the
  allow-list names that exact address (as tests and benchmarks do for a local fake service);
* host names are compared lower-cased, without a trailing dot; non-ASCII hosts are refused.
Redirects are never followed by the transports, so a 3xx answer cannot lead elsewhere.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from urllib.parse import urlsplit

from .conf import push_settings
from .exceptions import InvalidTarget


def _split_entry(entry: str) -> tuple[str, int | None]:
    entry = entry.strip().lower().rstrip(".")
    if entry.startswith("[") and "]" in entry:  # [::1]:8443
        host, _, rest = entry[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else None
    if entry.count(":") == 1:
        host, port = entry.split(":")
        return host, int(port)
    return entry, None


def _host_allowed(host: str, port: int | None, allowed: Sequence[str]) -> bool:
    for entry in allowed:
        pattern, entry_port = _split_entry(entry)
        if port is not None and entry_port != port:
            continue
        if pattern.startswith("*."):
            suffix = pattern[1:]  # ".notify.windows.com"
            if host.endswith(suffix) and len(host) > len(suffix):
                return True
        elif host == pattern:
            return True
    return False


def validate_endpoint(url: str, allowed_hosts: Sequence[str] | None = None) -> str:
    """Return ``url`` if it is a Web Push endpoint we may contact; else raise InvalidTarget."""
    allowed = list(allowed_hosts if allowed_hosts is not None else push_settings.WEBPUSH_ALLOWED_HOSTS)
    if not isinstance(url, str) or len(url) > 2048:
        raise InvalidTarget("The endpoint must be a URL of at most 2048 characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidTarget(f"The endpoint is not a valid URL: {exc}.") from exc
    if parts.scheme != "https":
        raise InvalidTarget("The endpoint must use https.")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise InvalidTarget("The endpoint must not contain user information.")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise InvalidTarget("The endpoint has no host.")
    if not host.isascii():
        raise InvalidTarget("The endpoint host must be ASCII (punycode).")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None or host == "localhost":
        # Only an address the allow-list names exactly may be contacted (a local fake service).
        if not any(
            _split_entry(e)[0] == host and _split_entry(e)[1] in (None, port)
            for e in allowed
            if not e.startswith("*.")
        ):
            kind = (
                "a private or reserved address" if address is not None and not address.is_global else "an IP"
            )
            raise InvalidTarget(f"The endpoint host {host!r} is {kind} not on the push-service allow-list.")
        return url
    if not _host_allowed(host, port, allowed):
        raise InvalidTarget(
            f"The endpoint host {host!r} is not a known push service (DJANGO_PUSH['WEBPUSH_ALLOWED_HOSTS'])."
        )
    return url
