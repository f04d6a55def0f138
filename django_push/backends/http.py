"""The HTTP backend contract: pure hooks per provider, one request exchange owned here.

A provider implements :meth:`HTTPBackend.build_request` (the request for one target, without
credentials: pure, so the admin preview shows exactly it), :meth:`HTTPBackend.authorize` (add the
credentials), :meth:`HTTPBackend.parse_response` (the normalized result of one answer) and, when its
credentials can expire early, :meth:`HTTPBackend.refresh_credentials`. The exchange — send, read,
"refused as expired → refresh once and retry" — is :meth:`HTTPBackend.exchange`, so no provider
overrides ``send_one``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import httpx

from django_push.backends.base import BaseBackend
from django_push.exceptions import PushAuthError
from django_push.message import PushMessage, Target
from django_push.results import SendResult

__all__ = ["HTTPBackend", "retry_after_seconds"]


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
        timeout = httpx.Timeout(self.options["read_timeout"], connect=self.options["connect_timeout"])
        if self.options["http2"]:
            try:
                from django_push.transport.h2 import H2Transport
            except ImportError:  # pragma: no cover - the lean transport ships with the package
                pass
            else:
                return H2Transport(
                    timeout=timeout,
                    max_connections=int(self.options["max_connections"]),
                    ssl_context=self.ssl_context(),
                    verify=self.options["verify"],
                    h2_library=self.options["h2_library"],
                )
        return httpx.AsyncHTTPTransport(
            http2=bool(self.options["http2"]), verify=self.ssl_context() or self.options["verify"]
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
        in a way :meth:`refresh_credentials` can fix, refresh them once and try once more."""
        request = build()
        blocked = self.authorize(request)
        if blocked is not None:
            return blocked
        try:
            return self.parse_response(target, await self._exchange(request))
        except PushAuthError as exc:
            if not await self.refresh_credentials(exc, request):
                raise
        request = build()
        blocked = self.authorize(request)
        if blocked is not None:
            return blocked
        try:
            return self.parse_response(target, await self._exchange(request))
        except PushAuthError as exc:
            raise self.refused_after_refresh(exc) from exc

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
