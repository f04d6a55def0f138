"""The HTTP backend contract: pure hooks per provider, one request exchange owned here.

A provider implements :meth:`HTTPBackend.build_request` (the request for one target, without
credentials: pure, so the admin preview shows exactly it), :meth:`HTTPBackend.authorize` (add the
credentials), :meth:`HTTPBackend.parse_response` (the normalized result of one answer) and, when its
credentials can expire early, :meth:`HTTPBackend.refresh_credentials`. The exchange — send, read,
"never processed → resend at once", "refused as expired → refresh once and retry" — is
:meth:`HTTPBackend.exchange`, so no provider overrides ``send_one``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any, ClassVar

import httpx

from django_push.backends.base import BaseBackend
from django_push.exceptions import PushAuthError
from django_push.message import PushMessage, Target
from django_push.results import SendResult
from django_push.transport.errors import RESEND, RESEND_AT_ONCE, TransportClosed

__all__ = ["HTTPBackend", "parsed_url", "retry_after_seconds", "url_with_path"]

#: A path that needs no percent-encoding: what url_with_path may splice in unparsed.
_PLAIN_PATH = re.compile(r"/[A-Za-z0-9._~/-]*")


@lru_cache(maxsize=64)
def parsed_url(url: str) -> httpx.URL:
    """``httpx.URL(url)``, parsed once per URL (a fixed endpoint, such as FCM's, or a base)."""
    return httpx.URL(url)


def _splice(base: httpx.URL, path: str) -> httpx.URL:
    url = httpx.URL.__new__(httpx.URL)
    url._uri_reference = base._uri_reference._replace(path=path)
    return url


def _splice_works() -> bool:
    """Whether this httpx keeps a URL as a ParseResult named tuple (0.23 to 0.29 do): checked once."""
    try:
        sample = "https://example.com:8443/3/device/ab01"
        return _splice(httpx.URL("https://example.com:8443"), "/3/device/ab01") == httpx.URL(sample)
    except Exception:  # a future httpx: parse every URL, as before
        return False


_SPLICE = _splice_works()


def url_with_path(base: str, path: str) -> httpx.URL:
    """``base`` (scheme://host[:port]) with ``path``, for a request per device.

    Why: ``httpx.URL(str)`` parses and validates the whole URL, about 30 µs, a tenth of the CPU a
    push costs. The base is parsed once; a plain path (APNs' ``/3/device/<hex token>``) is spliced
    into it unparsed. Anything else, or an httpx whose URL internals differ, is parsed in full."""
    parsed = parsed_url(base.rstrip("/"))
    if _SPLICE and not parsed.raw_path.strip(b"/") and _PLAIN_PATH.fullmatch(path):
        return _splice(parsed, path)
    return httpx.URL(f"{base.rstrip('/')}{path}")


class HTTPBackend(BaseBackend):
    """A backend that speaks HTTP: build one request per target, interpret one response.

    The ``transport`` option is the seam for tests and proxies (``httpx.MockTransport``, a respx
    router's transport, or any ``httpx.AsyncBaseTransport``). By default requests go through the lean
    HTTP/2 transport of :mod:`django_push.transport.h2`, or httpx's own for services that
    do not speak HTTP/2.
    """

    default_options: ClassVar[dict[str, Any]] = {
        "transport": None,
        "connect_timeout": 10.0,
        "read_timeout": 30.0,
        "http2": True,
        "max_connections": 4,
        # True, False, or a CA bundle path (the local fake service's self-signed certificate).
        "verify": True,
        # The HTTP/2 library: "h2", "jh2" (HPACK in Rust; `pip install "django-pushcast[fast]"`) or
        # "auto" (jh2 when installed). See django_push.transport.h2lib.
        "h2_library": "h2",
        # Streams in flight per origin: adaptive (enough to fill the wire, so a lost connection
        # takes little with it), or pinned with max_in_flight. See django_push.transport.limit.
        "adaptive_limit": True,
        "max_in_flight": None,
        # A request the service provably never processed (refused stream, GOAWAY above its
        # last_stream_id, no connection made) is resent at once, this many times at most.
        "not_processed_retries": 5,
        # An http:// CONNECT proxy ("http://user:password@proxy:3128"); None: HTTPS_PROXY/NO_PROXY
        # from the environment, unless trust_env is False.
        "proxy": None,
        "trust_env": True,
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._transport: httpx.AsyncBaseTransport | None = None

    @property
    def transport(self) -> httpx.AsyncBaseTransport:
        if self._transport is None:
            self._transport = self.options["transport"] or self.create_transport()
        return self._transport

    def create_transport(self) -> httpx.AsyncBaseTransport:
        o = self.options
        timeout = httpx.Timeout(o["read_timeout"], connect=o["connect_timeout"])
        max_in_flight = o["max_in_flight"]
        try:
            from django_push.transport.h2 import H2Transport
        except ImportError:  # pragma: no cover - the lean transport ships with the package
            return httpx.AsyncHTTPTransport(
                http2=bool(o["http2"]), verify=self.ssl_context() or o["verify"], proxy=o["proxy"]
            )
        # With http2 False it sends everything through httpx's HTTP/1.1 transport, with the same
        # proxy rules (the option, else the environment).
        return H2Transport(
            timeout=timeout,
            max_connections=int(o["max_connections"]),
            ssl_context=self.ssl_context(),
            verify=o["verify"],
            h2_library=o["h2_library"],
            adaptive_limit=bool(o["adaptive_limit"]),
            max_in_flight=None if max_in_flight is None else int(max_in_flight),
            proxy=o["proxy"],
            trust_env=bool(o["trust_env"]),
            http2=bool(o["http2"]),
        )

    def ssl_context(self) -> Any:
        """An ``ssl.SSLContext`` for mTLS backends (APNs certificates); None for the default."""
        return None

    async def aclose(self) -> None:
        # A transport given in OPTIONS belongs to the caller; one we created is ours to close.
        if self._transport is not None and self.options["transport"] is None:
            await self._transport.aclose()
            self._transport = None
        await super().aclose()

    async def send_one(self, message: PushMessage, target: Target) -> SendResult:
        return await self.exchange(lambda: self.build_request(message, target), target)

    async def exchange(self, build: Callable[[], httpx.Request], target: Target) -> SendResult:
        """Build, authorize, send and parse one request; when the service refuses the credentials
        in a way :meth:`refresh_credentials` can fix, refresh them once and try once more.

        A request the service provably never processed is resent at once (see :meth:`_send`)."""
        sent = await self._send(build)
        if isinstance(sent, SendResult):
            return sent
        request, response = sent
        try:
            return self.parse_response(target, response)
        except PushAuthError as exc:
            if not await self.refresh_credentials(exc, request):
                raise
        sent = await self._send(build)
        if isinstance(sent, SendResult):
            return sent
        try:
            return self.parse_response(target, sent[1])
        except PushAuthError as exc:
            raise self.refused_after_refresh(exc) from exc

    async def _send(
        self, build: Callable[[], httpx.Request]
    ) -> SendResult | tuple[httpx.Request, httpx.Response]:
        """Build, authorize and send one request: the request and its response, or the result
        :meth:`authorize` returned instead.

        A failure that proves the service never processed the request (a refused stream, a GOAWAY
        above its last_stream_id, no connection made: ``RESEND_AT_ONCE``) cannot duplicate a push,
        so the request is rebuilt, re-authorized and sent again at once, on another stream (the
        transport has retired a GOAWAY'd connection and opens a fresh one), up to
        ``not_processed_retries`` times; then the error propagates (an UNAVAILABLE result that
        costs no attempt). A closed transport is not retried.
        """
        retries = max(0, int(self.options["not_processed_retries"]))
        resend = False
        while True:
            request = build()
            blocked = self.authorize(request)
            if blocked is not None:
                return blocked
            if resend:
                request.extensions[RESEND] = True  # it keeps its place in the transport's line
            try:
                return request, await self._exchange(request)
            except TransportClosed:
                raise
            except RESEND_AT_ONCE:
                if retries <= 0:
                    raise
                retries -= 1
                resend = True

    async def _exchange(self, request: httpx.Request) -> httpx.Response:
        """Send one request through the transport and read its (small) body."""
        response = await self.transport.handle_async_request(request)
        try:
            await response.aread()
        finally:
            await response.aclose()
        return response

    def build_request(self, message: PushMessage, target: Target) -> httpx.Request:
        """Pure: the request for one target, without credentials. May raise MessageRejected."""
        raise NotImplementedError

    def authorize(self, request: httpx.Request) -> SendResult | None:
        """Add the credentials to ``request``. Returns a result instead when it cannot be sent for
        want of credentials that may come back (e.g. UNAVAILABLE: no OAuth token yet); raises
        PushAuthError when the credentials are refused for good."""
        return None

    async def refresh_credentials(self, error: PushAuthError, request: httpx.Request) -> bool:
        """The service refused the credentials ``request`` carried: fix them if this refusal can be
        fixed (an expired token) and return True to retry once; False lets the error stand."""
        return False

    def refused_after_refresh(self, error: PushAuthError) -> PushAuthError:
        """The error to raise when fresh credentials were refused too."""
        return error

    def parse_response(self, target: Target, response: httpx.Response) -> SendResult:
        """Pure: the normalized result of one response. May raise PushAuthError."""
        raise NotImplementedError


def retry_after_seconds(response: httpx.Response) -> float | None:
    """A response's Retry-After (seconds or an HTTP date) in seconds, or None."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        from datetime import datetime, timezone
        from email.utils import parsedate_to_datetime

        return max(0.0, (parsedate_to_datetime(value) - datetime.now(timezone.utc)).total_seconds())
    except (TypeError, ValueError):
        return None
