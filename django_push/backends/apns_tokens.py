"""APNs provider tokens (JWT): minted rarely, shared by every backend instance — and across processes.

Apple refuses more than one new token per 20 minutes per signing key (429 TooManyProviderTokenUpdates)
and wants a token at most an hour old, so one is minted per (team, key) and reused for ``token_ttl``
seconds. When APNs answers 403 ExpiredProviderToken, the refused token is replaced once (not once per
stream that saw the refusal).

Across processes, the token is shared through a Django cache (the backend's ``token_cache`` alias):
the cache holds the JWT string and its ``iat`` under (team id, key id) — never the private key. A
process mints only when the shared token is missing, older than ``token_ttl`` or the one APNs just
refused, and only while it holds the mint lock (``cache.add``): a process that loses the race waits up
to :data:`MINT_WAIT` seconds for the winner's token and adopts it. With Redis or Memcached that is
one token per key for the whole fleet; with LocMem (one store per process) it is per process, as
before; if the cache cannot be reached, the process mints its own and logs a warning once.

A 429 TooManyProviderTokenUpdates means APNs already holds a newer token of ours for this key than the
one refused (another process minted it): :meth:`_ProviderTokens.adopt_after_update_refusal` re-reads
the shared token; when there is none to adopt, the refused token is held back for
:data:`UPDATE_REFUSAL_RETRY` seconds instead of being sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.core.cache import caches

logger = logging.getLogger("django_push.backends")

MIN_MINT_INTERVAL = 20 * 60  # Apple: at most one new provider token per 20 minutes
MAX_TOKEN_TTL = 55 * 60  # Apple refuses tokens older than an hour; keep a margin
REFUSAL_REMINT_INTERVAL = 60  # a token minted after a refusal is not replaced again sooner

SHARED_KEY_PREFIX = "django_push:apns-provider-token"
MINT_LOCK_TIMEOUT = 10  # seconds the mint lock outlives a process that died holding it
MINT_WAIT = 2.0  # how long a process that lost the mint race waits for the winner's token
MINT_POLL_INTERVAL = 0.05
UPDATE_REFUSAL_RETRY = 60.0  # a token refused with TooManyProviderTokenUpdates is not sent sooner


def load_signing_key(pem: str | bytes) -> ec.EllipticCurvePrivateKey:
    """The P-256 private key of an APNs auth key (.p8, PEM); ValueError says what is wrong."""
    data = pem.encode() if isinstance(pem, str) else pem
    if b"-----BEGIN" not in data:
        raise ValueError("the key is not PEM: paste the whole .p8 file, including its BEGIN/END lines")
    key = serialization.load_pem_private_key(data.strip(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError("the key is not an EC P-256 key (an APNs .p8 auth key is)")
    return key


def mint_provider_token(team_id: str, key_id: str, key: ec.EllipticCurvePrivateKey, now: float) -> str:
    """A signed provider JWT (ES256; header kid; claims iss and iat), as Apple specifies."""
    return jwt.encode({"iss": team_id, "iat": int(now)}, key, algorithm="ES256", headers={"kid": key_id})


def shared_token_key(team_id: str, key_id: str) -> str:
    """The cache key of the shared token of one signing key (the mint lock is this + ``:mint``)."""
    return f"{SHARED_KEY_PREFIX}:{team_id}:{key_id}"


@dataclass(slots=True)
class _CachedToken:
    token: str
    minted: float  # the token's iat
    after_refusal: bool = False
    stale: bool = False
    throttled_until: float = 0.0  # process-local: refused with TooManyProviderTokenUpdates

    def keeps(self, *, ttl: float, now: float) -> bool:
        """Still the token to use: younger than ``ttl`` (and not invalidated), or too young to be
        replaced under Apple's 20-minute rule."""
        age = now - self.minted
        return age < MIN_MINT_INTERVAL or (age < ttl and not self.stale)

    def shared(self) -> dict[str, Any]:
        """What goes into the shared cache: the JWT and its iat, never the key."""
        return {
            "token": self.token,
            "iat": self.minted,
            "after_refusal": self.after_refusal,
            "stale": self.stale,
        }

    @classmethod
    def from_shared(cls, value: object) -> _CachedToken | None:
        if not isinstance(value, dict):
            return None
        token, iat = value.get("token"), value.get("iat")
        if not isinstance(token, str) or not isinstance(iat, int | float):
            return None
        return cls(
            token,
            float(iat),
            after_refusal=bool(value.get("after_refusal")),
            stale=bool(value.get("stale")),
        )


class _Unreachable(Exception):
    """The shared cache failed; the process falls back to its own tokens."""


class _Shared:
    """The shared cache of one signing key's token; every failure becomes :class:`_Unreachable`."""

    def __init__(self, alias: str, team_id: str, key_id: str) -> None:
        self.alias = alias
        self.key = shared_token_key(team_id, key_id)
        self.lock_key = f"{self.key}:mint"
        try:
            self.cache = caches[alias]
        except Exception as exc:
            raise _Unreachable(exc) from exc

    def _call(self, op: Callable[[], Any]) -> Any:
        try:
            return op()
        except Exception as exc:  # a cache server down, a timeout, a broken backend
            raise _Unreachable(exc) from exc

    def read(self) -> _CachedToken | None:
        return _CachedToken.from_shared(self._call(lambda: self.cache.get(self.key)))

    def write(self, entry: _CachedToken) -> None:
        self._call(lambda: self.cache.set(self.key, entry.shared(), timeout=MAX_TOKEN_TTL))

    def lock(self) -> bool:
        return bool(self._call(lambda: self.cache.add(self.lock_key, 1, timeout=MINT_LOCK_TIMEOUT)))

    def unlock(self) -> None:
        self._call(lambda: self.cache.delete(self.lock_key))

    def forget(self) -> None:
        self._call(lambda: self.cache.delete_many([self.key, self.lock_key]))


class _ProviderTokens:
    """Provider JWTs, one per (team id, key id): process-wide, shared across processes through a
    Django cache when the caller names one (``cache``), else process-local."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, str], _CachedToken] = {}
        self._shared_keys: set[tuple[str, str, str]] = set()  # (cache alias, team, key) we used
        self._warned: set[str] = set()
        self.mints = 0

    # -- the token to send -----------------------------------------------------------------------
    def current(self, team_id: str, key_id: str, *, ttl: float, now: float) -> str | None:
        """The token this process holds when it is still good; no I/O (the per-request path)."""
        cached = self._tokens.get((team_id, key_id))
        if cached is not None and cached.keeps(ttl=ttl, now=now):
            return cached.token
        return None

    def get(
        self,
        team_id: str,
        key_id: str,
        key: ec.EllipticCurvePrivateKey,
        *,
        ttl: float,
        now: float,
        refused: str | None = None,
        cache: str | None = None,
    ) -> str:
        """The current token. A new one is minted only when ours (and the shared one) is older than
        ``ttl`` (and never within 20 minutes of the last mint), or when APNs refused exactly that
        one as expired. Blocks up to :data:`MINT_WAIT` seconds while another process mints."""
        deadline = time.monotonic() + MINT_WAIT
        while True:
            token = self._step(
                team_id, key_id, key, ttl, now, refused, cache, give_up=time.monotonic() >= deadline
            )
            if token is not None:
                return token
            time.sleep(MINT_POLL_INTERVAL)

    async def aget(
        self,
        team_id: str,
        key_id: str,
        key: ec.EllipticCurvePrivateKey,
        *,
        ttl: float,
        now: float,
        refused: str | None = None,
        cache: str | None = None,
    ) -> str:
        """:meth:`get` for the push loop: waits for another process's mint without blocking it."""
        deadline = time.monotonic() + MINT_WAIT
        while True:
            token = self._step(
                team_id, key_id, key, ttl, now, refused, cache, give_up=time.monotonic() >= deadline
            )
            if token is not None:
                return token
            await asyncio.sleep(MINT_POLL_INTERVAL)

    def _step(
        self,
        team_id: str,
        key_id: str,
        key: ec.EllipticCurvePrivateKey,
        ttl: float,
        now: float,
        refused: str | None,
        alias: str | None,
        *,
        give_up: bool,
    ) -> str | None:
        """One try: the token to use, or None while another process holds the mint lock."""
        ident = (team_id, key_id)
        with self._lock:
            cached = self._tokens.get(ident)
            if cached is not None:
                if refused is None and cached.keeps(ttl=ttl, now=now):
                    return cached.token
                if refused is not None and cached.token != refused:
                    return cached.token  # another stream already replaced the refused token
            if alias is None:
                return self._mint_local(ident, cached, key, now, refused)
            try:
                shared = _Shared(alias, team_id, key_id)
                self._shared_keys.add((alias, team_id, key_id))
                adopted = self._adoptable(shared.read(), ttl, now, refused)
                if adopted is not None:
                    return self._adopt(ident, adopted)
                locked = False
                if not give_up:
                    locked = shared.lock()
                    if not locked:
                        return None  # another process is minting: wait for its token
                    # It may have finished between our read and our lock.
                    adopted = self._adoptable(shared.read(), ttl, now, refused)
                    if adopted is not None:
                        shared.unlock()
                        return self._adopt(ident, adopted)
            except _Unreachable as exc:
                self._warn_unreachable(alias, exc)
                return self._mint_local(ident, cached, key, now, refused)
            entry = self._mint(ident, key, now, refused)
            try:
                shared.write(entry)
                if locked:
                    shared.unlock()
            except _Unreachable as exc:
                self._warn_unreachable(alias, exc)
            return entry.token

    @staticmethod
    def _adoptable(
        shared: _CachedToken | None, ttl: float, now: float, refused: str | None
    ) -> _CachedToken | None:
        """The shared token when this process should use it rather than mint."""
        if shared is None:
            return None
        if refused is None or shared.token != refused:
            return shared if shared.keeps(ttl=ttl, now=now) else None
        if shared.after_refusal and now - shared.minted < REFUSAL_REMINT_INTERVAL:
            return shared  # refused again at once: a clock problem, not an old token
        return None

    def _adopt(self, ident: tuple[str, str], shared: _CachedToken) -> str:
        cached = self._tokens.get(ident)
        if cached is None or cached.token != shared.token:
            self._tokens[ident] = shared
        return shared.token

    def _mint_local(
        self,
        ident: tuple[str, str],
        cached: _CachedToken | None,
        key: ec.EllipticCurvePrivateKey,
        now: float,
        refused: str | None,
    ) -> str:
        if (
            refused is not None
            and cached is not None
            and cached.after_refusal
            and now - cached.minted < REFUSAL_REMINT_INTERVAL
        ):
            return cached.token  # refused again at once: a clock problem, not an old token
        return self._mint(ident, key, now, refused).token

    def _mint(
        self, ident: tuple[str, str], key: ec.EllipticCurvePrivateKey, now: float, refused: str | None
    ) -> _CachedToken:
        entry = _CachedToken(mint_provider_token(*ident, key, now), now, after_refusal=refused is not None)
        self._tokens[ident] = entry
        self.mints += 1
        return entry

    def _warn_unreachable(self, alias: str, exc: BaseException) -> None:
        if alias in self._warned:
            return
        self._warned.add(alias)
        cause = exc.__cause__ or exc
        logger.warning(
            "APNs provider tokens: cache %r is unreachable (%s: %s); this process mints its own "
            "tokens, which APNs may refuse with 429 TooManyProviderTokenUpdates while another "
            "process's token is newer",
            alias,
            type(cause).__name__,
            cause,
        )

    # -- TooManyProviderTokenUpdates -------------------------------------------------------------
    def adopt_after_update_refusal(
        self, team_id: str, key_id: str, refused: str, *, now: float, cache: str | None = None
    ) -> str | None:
        """APNs refused ``refused`` with 429 TooManyProviderTokenUpdates: another process's token for
        this key is newer. The token to retry with (one this process or the shared cache holds that
        differs from the refused one), or None: then the refused token is held back
        :data:`UPDATE_REFUSAL_RETRY` seconds (:meth:`throttled_for`), never sent again at once."""
        ident = (team_id, key_id)
        with self._lock:
            cached = self._tokens.get(ident)
            if cached is not None and cached.token != refused:
                return cached.token  # another stream adopted one already
            if cache is not None:
                try:
                    shared = _Shared(cache, team_id, key_id)
                    self._shared_keys.add((cache, team_id, key_id))
                    entry = shared.read()
                except _Unreachable as exc:
                    self._warn_unreachable(cache, exc)
                    entry = None
                if entry is not None and entry.token != refused and now - entry.minted < MAX_TOKEN_TTL:
                    return self._adopt(ident, entry)
            if cached is not None:
                cached.throttled_until = max(cached.throttled_until, now + UPDATE_REFUSAL_RETRY)
            return None

    def throttle(self, team_id: str, key_id: str, token: str, *, now: float) -> None:
        """Hold ``token`` back :data:`UPDATE_REFUSAL_RETRY` seconds (refused even after adopting it)."""
        cached = self._tokens.get((team_id, key_id))
        if cached is not None and cached.token == token:
            cached.throttled_until = max(cached.throttled_until, now + UPDATE_REFUSAL_RETRY)

    def throttled_for(self, team_id: str, key_id: str, token: str, *, now: float) -> float:
        """Seconds ``token`` is still held back after a TooManyProviderTokenUpdates refusal (0: none)."""
        cached = self._tokens.get((team_id, key_id))
        if cached is None or cached.token != token:
            return 0.0
        return max(0.0, cached.throttled_until - now)

    # -- maintenance ---------------------------------------------------------------------------------
    def invalidate(self) -> None:
        """Replace every token at its next use, as soon as Apple's 20-minute limit allows — in this
        process and, for the tokens it shares, in every process using the same cache."""
        with self._lock:
            for cached in self._tokens.values():
                cached.stale = True
            for alias, team_id, key_id in sorted(self._shared_keys):
                try:
                    shared = _Shared(alias, team_id, key_id)
                    entry = shared.read()
                    if entry is not None:
                        entry.stale = True
                        shared.write(entry)
                except _Unreachable as exc:
                    self._warn_unreachable(alias, exc)

    def clear(self) -> None:
        """Forget every token, here and the shared ones this process used (tests start like this)."""
        with self._lock:
            self._tokens.clear()
            for alias, team_id, key_id in sorted(self._shared_keys):
                with contextlib.suppress(_Unreachable):
                    _Shared(alias, team_id, key_id).forget()
            self._shared_keys.clear()
            self._warned.clear()


provider_tokens = _ProviderTokens()


def jwt_mint_count() -> int:
    """How many provider tokens this process has minted (for tests and monitoring)."""
    return provider_tokens.mints
