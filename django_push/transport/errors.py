"""Transport exceptions, and one table classifying them.

The line that matters is *ambiguity*: did the service possibly accept the request before we lost it?
A request that never left (connect failure, refused stream, a stream above GOAWAY's last_stream_id)
is safe to resend; one lost after it was written (read timeout, reset mid-response) may be a
duplicate if resent, so it is *ambiguous*. :func:`classify` says which; the backends turn that into
a normalized result (this package imports nothing of django_push's own).
"""

from __future__ import annotations

import httpx


class TransportLibraryError(ImportError):
    """The installed h2/hpack lacks a private name this transport relies on (see :mod:`.h2lib`)."""


class RequestNotProcessed(httpx.TransportError):
    """The server certainly did not process the request (refused stream, GOAWAY above last id)."""


class TransportClosed(RequestNotProcessed):
    """The transport was closed before the request got a stream: not processed, and not to be
    resent through this transport (it is being shut down)."""


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


#: Codes of failures where the request provably never reached the service's processing: retried at once
#: on a fresh connection, and costing no attempt.
NOT_PROCESSED = frozenset({"not_processed", "connect_timeout", "pool_timeout", "connect_error"})

#: The exceptions a sender may resend at once, on a fresh connection, without any risk of a duplicate:
#: the service provably never processed the request (refused stream, GOAWAY above last_stream_id, no
#: connection made). Not :class:`TransportClosed`: that transport is going away.
RESEND_AT_ONCE: tuple[type[BaseException], ...] = (
    RequestNotProcessed,
    httpx.ConnectError,
    httpx.ConnectTimeout,
)

#: ``request.extensions[RESEND] = True`` marks such a resend: the transport puts it at the head of
#: the line for a stream (it already had its turn), not behind every request queued since.
RESEND = "django_push.resend"


def classify(exc: BaseException) -> tuple[str, bool] | None:
    """``(code, ambiguous)`` for a transport exception, or None when ``exc`` is not one."""
    for exc_type, code, ambiguous in TRANSPORT_ERRORS:
        if isinstance(exc, exc_type):
            return code, ambiguous
    return None
