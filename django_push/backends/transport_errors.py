"""One table mapping transport exceptions to normalized results.

The line that matters is *ambiguity*: did the service possibly accept the request before we lost it?
A request that never left (connect failure, refused stream, a stream above GOAWAY's last_stream_id)
is safe to resend; one lost after it was written (read timeout, reset mid-response) may be a
duplicate if resent, so its result is marked ``ambiguous`` and dispatch records that it retried.
"""

from __future__ import annotations

import httpx

from ..results import SendResult


class RequestNotProcessed(httpx.TransportError):
    """The server certainly did not process the request (refused stream, GOAWAY above last id)."""


# Order matters: the first matching class wins, so subclasses come before their bases.
TRANSPORT_ERRORS: tuple[tuple[type[BaseException], str, bool], ...] = (
    (RequestNotProcessed, "not_processed", False),
    (httpx.ConnectTimeout, "connect_timeout", False),
    (httpx.PoolTimeout, "pool_timeout", False),
    (httpx.ConnectError, "connect_error", False),
    (httpx.WriteTimeout, "write_timeout", False),
    (httpx.ReadTimeout, "read_timeout", True),
    (httpx.TimeoutException, "timeout", True),
    (httpx.WriteError, "write_error", False),
    (httpx.ReadError, "read_error", True),
    (httpx.RemoteProtocolError, "protocol_error", True),
    (httpx.TransportError, "transport_error", True),
    (ConnectionError, "connection_error", True),
    (OSError, "os_error", True),
)


def result_for_exception(exc: BaseException) -> SendResult | None:
    """The UNAVAILABLE result for a transport exception, or None when ``exc`` is not one."""
    for exc_type, code, ambiguous in TRANSPORT_ERRORS:
        if isinstance(exc, exc_type):
            return SendResult.unavailable(code, f"{type(exc).__name__}: {exc}"[:500], ambiguous=ambiguous)
    return None
