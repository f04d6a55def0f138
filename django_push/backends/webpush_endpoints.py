"""Which Web Push endpoints we may contact: an allow-list of push services, and no SSRF.

A Web Push endpoint comes from a browser, so it is attacker-controlled input: without checks a user
could make the server POST to an internal address. :func:`validate_endpoint` is called at
registration (API) and again at send time (the Web Push backend), so a bad row is never contacted.

Rules:

* ``https`` only; no user information (``user@host``); no fragment; ASCII only, no whitespace,
  control characters or backslashes (parsers disagree about those);
* the host is a DNS name of valid labels (lower-cased for comparison; a trailing dot, empty labels,
  percent-escapes and non-ASCII/IDN spellings are refused — push services use plain ASCII names);
* the host must match an allow-list entry on a dot boundary: ``fcm.googleapis.com`` matches only
  itself, ``*.notify.windows.com`` matches ``wns2-par02p.notify.windows.com`` but neither
  ``evilnotify.windows.com`` nor ``notify.windows.com`` itself;
* IP literals (v4 and v6) match only an entry naming that exact address, never a wildcard, so a
  private, loopback or link-local address is reachable only when an operator lists it (as tests and
  benchmarks do for a local fake service, e.g. ``"127.0.0.1:8443"``);
* ports: an entry without a port allows only the default port 443 (``:443`` written explicitly is
  the same URL); any other port must be named by the entry (``"127.0.0.1:8443"``,
  ``"*.example.net:8443"``).
* a subscription id must follow the service's base path: ``https://fcm.googleapis.com/fcm/send/``,
  ``https://updates.push.services.mozilla.com/wpush/v2/`` or ``https://web.push.apple.com/`` alone is
  the service, not a subscription (see :data:`SERVICE_BASE_PATHS`); a Windows endpoint needs its
  ``?token=``; on any other host, an endpoint needs a path or a query.

Redirects are never followed by the transports, so a 3xx answer cannot lead elsewhere. DNS is not
resolved here: an allow-listed name is trusted to point where its owner says.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from django_push.conf import push_settings
from django_push.exceptions import InvalidTarget, PushConfigurationError

MAX_ENDPOINT_LENGTH = 4096
DEFAULT_PORT = 443
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_FORBIDDEN = re.compile(r"[\x00-\x20\x7f\\]")
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Where the known push services put the subscription id: after one of these paths (compared without
#: empty segments, so ``/fcm/send``, ``/fcm/send/`` and ``/fcm/send//`` are all the bare base).
SERVICE_BASE_PATHS: dict[str, tuple[str, ...]] = {
    "fcm.googleapis.com": ("/", "/fcm/send/", "/wp/"),
    "updates.push.services.mozilla.com": ("/", "/wpush/v1/", "/wpush/v2/", "/push/v1/"),
    "push.services.mozilla.com": ("/", "/wpush/v1/", "/wpush/v2/", "/push/v1/"),
    "web.push.apple.com": ("/",),
}
#: Windows (WNS) endpoints carry the subscription in the query: ``https://….notify.windows.com/w/?token=…``.
WNS_SUFFIX = ".notify.windows.com"


@dataclass(frozen=True, slots=True)
class AllowedHost:
    """One parsed allow-list entry: an exact host or IP, or ``*.suffix``; and the one port allowed."""

    host: str
    port: int
    wildcard: bool = False

    def matches(self, host: str, port: int, is_ip: bool) -> bool:
        if port != self.port:
            return False
        if self.wildcard:
            return not is_ip and host.endswith("." + self.host)
        return host == self.host


def _parse_ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _valid_dns_name(host: str) -> bool:
    labels = host.split(".")
    return (
        len(host) <= 253
        and all(_LABEL.match(label) for label in labels)
        # A numeric last label ("127.1", "0x7f") is an address in disguise for some resolvers.
        and not labels[-1].isdigit()
        and not labels[-1].startswith("0x")
    )


def parse_allowed_host(entry: str) -> AllowedHost:
    """Parse ``host``, ``host:port``, ``*.suffix[:port]``, ``1.2.3.4[:port]`` or ``[v6][:port]``."""
    if not isinstance(entry, str) or not entry.strip():
        raise PushConfigurationError(f"WEBPUSH_ALLOWED_HOSTS entry {entry!r} is not a host name")
    raw = entry.strip().lower()
    port = DEFAULT_PORT
    if raw.startswith("["):
        host, sep, rest = raw[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise PushConfigurationError(f"WEBPUSH_ALLOWED_HOSTS entry {entry!r} is not a valid address")
        port_text = rest[1:] if rest else ""
    elif raw.count(":") == 1:
        host, port_text = raw.split(":")
    elif ":" in raw:  # a bare IPv6 address
        host, port_text = raw, ""
    else:
        host, port_text = raw, ""
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise PushConfigurationError(f"WEBPUSH_ALLOWED_HOSTS entry {entry!r} has an invalid port")
        port = int(port_text)
    wildcard = host.startswith("*.")
    name = host[2:] if wildcard else host
    if _parse_ip(name) is not None:
        if wildcard:
            raise PushConfigurationError(f"WEBPUSH_ALLOWED_HOSTS entry {entry!r}: an IP cannot be a wildcard")
        return AllowedHost(str(_parse_ip(name)), port)
    if not _valid_dns_name(name):
        raise PushConfigurationError(f"WEBPUSH_ALLOWED_HOSTS entry {entry!r} is not a valid host name")
    if wildcard and name.count(".") < 1:
        raise PushConfigurationError(
            f"WEBPUSH_ALLOWED_HOSTS entry {entry!r} is too broad: a wildcard needs at least two labels "
            "after '*.' (e.g. '*.notify.windows.com')"
        )
    return AllowedHost(name, port, wildcard)


def parse_allowed_hosts(entries: Iterable[str]) -> tuple[AllowedHost, ...]:
    """Parse a whole allow-list; raises PushConfigurationError naming the first bad entry."""
    if isinstance(entries, str):
        raise PushConfigurationError("WEBPUSH_ALLOWED_HOSTS must be a list of host names, not a string")
    return tuple(parse_allowed_host(entry) for entry in entries)


_parsed_cache: dict[tuple[str, ...], tuple[AllowedHost, ...]] = {}


def _allow_list(allowed_hosts: Sequence[str] | Sequence[AllowedHost] | None) -> tuple[AllowedHost, ...]:
    entries = push_settings.WEBPUSH_ALLOWED_HOSTS if allowed_hosts is None else allowed_hosts
    hosts = tuple(e for e in entries if isinstance(e, AllowedHost))
    if len(hosts) == len(entries):
        return hosts  # already parsed (the backend parses its option once)
    key = tuple(str(e) for e in entries)
    parsed = _parsed_cache.get(key)
    if parsed is None:
        parsed = _parsed_cache[key] = parse_allowed_hosts(key)
    return parsed


def validate_endpoint(url: str, allowed_hosts: Sequence[str] | Sequence[AllowedHost] | None = None) -> str:
    """Return the normalized endpoint if we may contact it, else raise :class:`InvalidTarget`.

    ``allowed_hosts`` defaults to ``DJANGO_PUSH["WEBPUSH_ALLOWED_HOSTS"]``. Normalized means: scheme
    and host lower-cased and an explicit default port dropped; path and query are kept verbatim.
    """
    if not isinstance(url, str) or not url:
        raise InvalidTarget("The Web Push endpoint must be a non-empty URL.")
    if len(url) > MAX_ENDPOINT_LENGTH:
        raise InvalidTarget(f"The Web Push endpoint is longer than {MAX_ENDPOINT_LENGTH} characters.")
    if not url.isascii() or _FORBIDDEN.search(url):
        raise InvalidTarget(
            "The Web Push endpoint must be plain ASCII without spaces, control characters or backslashes."
        )
    try:
        parts = urlsplit(url)
        explicit_port = parts.port
    except ValueError as exc:
        raise InvalidTarget(f"The Web Push endpoint is not a valid URL: {exc}.") from exc
    if parts.scheme != "https":
        raise InvalidTarget("The Web Push endpoint must use https.")
    if "@" in parts.netloc:
        raise InvalidTarget("The Web Push endpoint must not contain user information (user@host).")
    if parts.fragment or url.endswith("#"):
        raise InvalidTarget("The Web Push endpoint must not contain a fragment.")
    host = parts.hostname or ""
    if not host:
        raise InvalidTarget("The Web Push endpoint has no host.")
    port = DEFAULT_PORT if explicit_port is None else explicit_port
    address = _parse_ip(host)
    if address is None and not _valid_dns_name(host):
        raise InvalidTarget(
            f"The Web Push endpoint host {host!r} is not a valid DNS name (no trailing dot, empty labels, "
            "escapes or non-ASCII spellings)."
        )
    canonical = str(address) if address is not None else host
    if not any(entry.matches(canonical, port, address is not None) for entry in _allow_list(allowed_hosts)):
        if address is not None:
            kind = "a private or reserved address" if not address.is_global else "an IP address"
            raise InvalidTarget(
                f"The Web Push endpoint host {host!r} is {kind}; only an address listed exactly in "
                "DJANGO_PUSH['WEBPUSH_ALLOWED_HOSTS'] may be contacted."
            )
        where = f"{host}:{port}" if port != DEFAULT_PORT else host
        raise InvalidTarget(
            f"The Web Push endpoint host {where!r} is not a known push service "
            "(DJANGO_PUSH['WEBPUSH_ALLOWED_HOSTS'])."
        )
    _require_subscription_id(canonical, parts.path, parts.query)
    netloc = f"[{canonical}]" if address is not None and address.version == 6 else canonical
    if port != DEFAULT_PORT:
        netloc += f":{port}"
    query = f"?{parts.query}" if parts.query else ""
    return f"https://{netloc}{parts.path}{query}"


def _require_subscription_id(host: str, path: str, query: str) -> None:
    """Refuse an endpoint that is only its push service's base path, with no subscription after it."""
    segments = "/".join(segment for segment in path.split("/") if segment)
    if host.endswith(WNS_SUFFIX):
        if not any(value.strip() for value in parse_qs(query).get("token", [])):
            raise InvalidTarget(
                "The Web Push endpoint has no subscription id: a Windows endpoint ends in ?token=…."
            )
        return
    bare = not (segments or query)  # any host: a path or a query at least
    bases = SERVICE_BASE_PATHS.get(host)
    if bases is not None:  # a known service: something after its base path
        bare = segments in {base.strip("/") for base in bases}
    if bare:
        raise InvalidTarget(
            f"The Web Push endpoint has no subscription id: {path or '/'!r} is the push service's base "
            "path, not a subscription."
        )


def origin(endpoint: str) -> str:
    """``scheme://host[:port]`` of a validated endpoint: the VAPID audience (RFC 8292 §2)."""
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc}"
