"""The backend contract: one class per push service, the send loop owned here.

Subclasses declare their options in ``default_options`` (``REQUIRED`` for those without a default)
and implement :meth:`BaseBackend.send_one`; HTTP backends implement the pure hooks of
:class:`HTTPBackend` instead. The base class guarantees exactly one :class:`SendResult` per target,
in order; turns per-target exceptions into results; bounds concurrency; and offers a sync façade
over the async core. Backends never touch the database.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import httpx

from ..exceptions import InvalidTarget, PayloadTooLarge, PushAuthError, PushConfigurationError
from ..message import PushMessage, Target
from ..results import DeliveryStatus, SendResult
from . import loop
from .transport_errors import result_for_exception

logger = logging.getLogger("django_push.backends")


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()

COMMON_OPTIONS: dict[str, Any] = {"max_concurrency": 1000}
# error_code of results failed because the service refused *our* credentials: not the device's fault.
AUTH_ERROR_CODE = "auth"


class BaseBackend:
    """Template for every backend. Construction validates options and does no I/O."""

    platform: ClassVar[str] = "*"
    default_options: ClassVar[dict[str, Any]] = {}

    def __init__(self, *, alias: str = "", application: str = "default", **options: Any) -> None:
        self.alias = alias or self.platform
        self.application = application
        self.options = self.check_options(options, setting_path=self.setting_path)
        self._semaphores: dict[int, asyncio.Semaphore] = {}
        self.opened = False

    @property
    def setting_path(self) -> str:
        return f'DJANGO_PUSH["BACKENDS"]["{self.alias}"]["OPTIONS"]'

    @classmethod
    def declared_options(cls) -> dict[str, Any]:
        declared: dict[str, Any] = {}
        for klass in reversed(cls.__mro__):
            declared.update(COMMON_OPTIONS if klass is BaseBackend else {})
            declared.update(klass.__dict__.get("default_options", {}))
        return declared

    @classmethod
    def check_options(cls, options: dict[str, Any], *, setting_path: str = "OPTIONS") -> dict[str, Any]:
        """Merge ``options`` over the declared defaults; unknown or missing ones name the setting."""
        declared = cls.declared_options()
        unknown = sorted(set(options) - set(declared))
        if unknown:
            raise PushConfigurationError(
                f"{setting_path} has unknown option(s) {', '.join(map(repr, unknown))} for "
                f"{cls.__module__}.{cls.__qualname__}; known: {', '.join(sorted(declared)) or 'none'}"
            )
        merged = {**declared, **options}
        missing = sorted(name for name, value in merged.items() if value is REQUIRED)
        if missing:
            raise PushConfigurationError(
                f"{setting_path} is missing required option(s) {', '.join(map(repr, missing))} for "
                f"{cls.__module__}.{cls.__qualname__}"
            )
        return merged

    # -- lifecycle -------------------------------------------------------------------------------
    async def aopen(self) -> None:
        self.opened = True

    async def aclose(self) -> None:
        self.opened = False

    def open(self) -> None:
        loop.run(self.aopen())

    def close(self) -> None:
        loop.run(self.aclose())

    def __enter__(self) -> BaseBackend:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> BaseBackend:
        await self.aopen()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- sending ---------------------------------------------------------------------------------
    def send(self, message: PushMessage, targets: Sequence[Target]) -> list[SendResult]:
        """Synchronous façade: runs :meth:`asend` on the process's push loop."""
        return loop.run(self.asend(message, targets))

    async def asend(
        self,
        message: PushMessage,
        targets: Sequence[Target],
        on_result: Callable[[int, SendResult], None] | None = None,
    ) -> list[SendResult]:
        """Send ``message`` to every target; exactly one result per target, in order.

        ``on_result(index, result)`` is called as each answer arrives (on the sending loop), so a
        caller can record outcomes before the whole batch is done. Raises :class:`PushAuthError`
        only when the service refuses our credentials; the exception's ``results`` then holds one
        result per target (those sent before it are SENT).
        """
        targets = list(targets)
        if not targets:
            return []
        if not self.opened:
            await self.aopen()
        try:
            await self.prepare(message)
        except PushAuthError as exc:
            results = [
                SendResult(
                    DeliveryStatus.FAILED, error_code=AUTH_ERROR_CODE, reason=f"{exc.reason}: {exc}"[:500]
                )
                for _ in targets
            ]
            if on_result is not None:
                for index, result in enumerate(results):
                    on_result(index, result)
            exc.results = results  # type: ignore[attr-defined]
            raise
        semaphore = self._semaphore()

        async def one(index: int, target: Target) -> SendResult | BaseException:
            outcome = await attempt(target)
            if on_result is not None and isinstance(outcome, SendResult):
                on_result(index, outcome)
            return outcome

        async def attempt(target: Target) -> SendResult | BaseException:
            async with semaphore:
                try:
                    return await self.send_one(message, target)
                except PushAuthError as exc:
                    return exc
                except (PayloadTooLarge, InvalidTarget) as exc:
                    code = "payload_too_large" if isinstance(exc, PayloadTooLarge) else "invalid_target"
                    return SendResult(DeliveryStatus.REJECTED, error_code=code, reason=str(exc))
                except Exception as exc:
                    mapped = result_for_exception(exc)
                    if mapped is None:
                        logger.exception("%s backend failed on %r", self.alias, target)
                        mapped = SendResult(
                            DeliveryStatus.FAILED, error_code=type(exc).__name__, reason=str(exc)[:500]
                        )
                    return mapped

        outcomes = await asyncio.gather(*(one(i, t) for i, t in enumerate(targets)))
        auth_error = next((o for o in outcomes if isinstance(o, PushAuthError)), None)
        results = [
            o
            if isinstance(o, SendResult)
            else SendResult(
                DeliveryStatus.FAILED,
                error_code=AUTH_ERROR_CODE,
                reason=f"{getattr(o, 'reason', '')}: {o}"[:500],
            )
            for o in outcomes
        ]
        if auth_error is not None:
            if on_result is not None:
                for index, outcome in enumerate(outcomes):
                    if not isinstance(outcome, SendResult):
                        on_result(index, results[index])
            auth_error.results = results  # type: ignore[attr-defined]
            raise auth_error
        return results

    def _semaphore(self) -> asyncio.Semaphore:
        running = asyncio.get_running_loop()
        key = id(running)
        sem = self._semaphores.get(key)
        if sem is None:
            sem = self._semaphores[key] = asyncio.Semaphore(int(self.options["max_concurrency"]))
        return sem

    async def prepare(self, message: PushMessage) -> None:
        """Hook run once per batch before any target (e.g. refresh credentials)."""

    async def send_one(self, message: PushMessage, target: Target) -> SendResult:
        raise NotImplementedError


class HTTPBackend(BaseBackend):
    """A backend that speaks HTTP: build one request per target, interpret one response.

    The ``transport`` option is the seam for tests and proxies (``httpx.MockTransport``, a respx
    router's transport, or any ``httpx.AsyncBaseTransport``). By default requests go through the lean
    HTTP/2 transport of :mod:`django_push.backends.h2transport`, or httpx's own for services that
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
                from .h2transport import H2Transport
            except ImportError:  # pragma: no cover - the lean transport ships with the package
                pass
            else:
                return H2Transport(
                    timeout=timeout,
                    max_connections=int(self.options["max_connections"]),
                    ssl_context=self.ssl_context(),
                    verify=self.options["verify"],
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
        return self.parse_response(target, await self._exchange(self.build_request(message, target)))

    async def _exchange(self, request: httpx.Request) -> httpx.Response:
        """Send one request through the transport and read its (small) body."""
        response = await self.transport.handle_async_request(request)
        try:
            await response.aread()
        finally:
            await response.aclose()
        return response

    def build_request(self, message: PushMessage, target: Target) -> httpx.Request:
        """Pure: the request for one target. May raise PayloadTooLarge or InvalidTarget."""
        raise NotImplementedError

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
