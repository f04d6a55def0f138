"""The backend contract: one class per push service, the send loop owned here.

Subclasses declare their options in ``default_options`` (``REQUIRED`` for those without a default)
and implement :meth:`BaseBackend.send_one`; HTTP backends implement the pure hooks of
:class:`~django_push.backends.http.HTTPBackend` instead. The base class guarantees exactly one
:class:`SendResult` per target, in order; turns per-target exceptions into results in one place
(:func:`result_for_exception`); bounds concurrency; and offers a sync façade over the async core.
Backends never touch the database.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from django_push.conf import CHANNEL_PLATFORMS, PLATFORMS
from django_push.exceptions import MessageRejected, PushAuthError, PushConfigurationError
from django_push.message import PushMessage, Target
from django_push.results import AUTH_ERROR_CODE, DeliveryStatus, SendResult
from django_push.transport import loop
from django_push.transport.errors import NOT_PROCESSED, classify

logger = logging.getLogger("django_push.backends")


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()

COMMON_OPTIONS: dict[str, Any] = {"max_concurrency": 1000}


def result_for_exception(exc: BaseException) -> SendResult | None:
    """The result a per-target exception stands for, or None when it is not one we know.

    The one place exceptions become results: a message the service would refuse is REJECTED (never
    retried); a transport failure is UNAVAILABLE, ambiguous when the request may have been processed.
    """
    if isinstance(exc, MessageRejected):
        return SendResult(DeliveryStatus.REJECTED, error_code=exc.error_code, reason=str(exc)[:500])
    classified = classify(exc)
    if classified is None:
        return None
    code, ambiguous = classified
    return SendResult.unavailable(
        code,
        f"{type(exc).__name__}: {exc}"[:500],
        ambiguous=ambiguous,
        counts_attempt=code not in NOT_PROCESSED,
    )


class BaseBackend:
    """Template for every backend. Construction validates options and does no I/O."""

    #: The platform a provider backend serves; "*" for the generic ones (locmem, console, dummy),
    #: which take theirs from the ``platform`` argument (the handler passes the BACKENDS key).
    platform: str = "*"
    default_options: ClassVar[dict[str, Any]] = {}
    #: Seconds to wait between attempts, for channels whose providers expect their own schedule (the
    #: webhook backend: Svix's ~1 day). None: dispatch's backoff within ``RETRY_BUDGET``. With a
    #: schedule, a delivery is retried once per entry and then given up.
    retry_schedule: ClassVar[tuple[float, ...] | None] = None

    def __init__(
        self, *, platform: str = "", alias: str = "", application: str = "default", **options: Any
    ) -> None:
        served = type(self).platform
        platform = platform or (served if served != "*" else alias)
        if platform not in PLATFORMS + CHANNEL_PLATFORMS:
            raise PushConfigurationError(
                f"{type(self).__qualname__} needs a platform "
                f"({', '.join(PLATFORMS + CHANNEL_PLATFORMS)}); got {platform!r}"
            )
        if served not in ("*", platform):
            raise PushConfigurationError(
                f'DJANGO_PUSH["BACKENDS"]["{alias or platform}"]: {type(self).__qualname__} sends to '
                f"{served}, not {platform}"
            )
        self.platform = platform
        self.alias = alias or platform
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
        *,
        messages: Sequence[PushMessage] | None = None,
    ) -> list[SendResult]:
        """Send ``message`` to every target; exactly one result per target, in order.

        ``on_result(index, result)`` is called as each answer arrives (on the sending loop), so a
        caller can record outcomes before the whole batch is done. Raises :class:`PushAuthError`
        only when the service refuses our credentials; the exception's ``results`` then holds one
        result per target (those sent before it are SENT).

        ``messages``, when given, is one message per target (variants of ``message`` that differ in
        per-delivery data, such as the engagement reference): one batch still shares the backend's
        preparation, connections and concurrency, instead of one batch per device.
        """
        targets = list(targets)
        if not targets:
            return []
        if messages is not None and len(messages) != len(targets):
            raise ValueError(f"{len(messages)} messages for {len(targets)} targets: give one per target")
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
            outcome = await attempt(message if messages is None else messages[index], target)
            if on_result is not None and isinstance(outcome, SendResult):
                on_result(index, outcome)
            return outcome

        async def attempt(message: PushMessage, target: Target) -> SendResult | BaseException:
            async with semaphore:
                try:
                    return await self.send_one(message, target)
                except PushAuthError as exc:
                    return exc
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
        """One push to one target. May raise MessageRejected, PushAuthError or transport errors."""
        raise NotImplementedError

    def check_credentials(self, *, fetch_token: bool = False) -> str:
        """Check this backend's credentials without sending; a one-line summary, or raise
        PushError/ImproperlyConfigured saying what is wrong (``manage.py checkpushcredentials``)."""
        return f"{type(self).__name__} uses no credentials (nothing to check)"
