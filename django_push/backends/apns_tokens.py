"""APNs provider tokens (JWT): minted rarely, shared by every backend instance in the process.

Apple refuses more than one new token per 20 minutes per signing key (429 TooManyProviderTokenUpdates)
and wants a token at most an hour old, so one is minted per (team, key) and reused for ``token_ttl``
seconds. When APNs answers 403 ExpiredProviderToken, the refused token is replaced once (not once per
stream that saw the refusal).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

MIN_MINT_INTERVAL = 20 * 60  # Apple: at most one new provider token per 20 minutes
MAX_TOKEN_TTL = 55 * 60  # Apple refuses tokens older than an hour; keep a margin
REFUSAL_REMINT_INTERVAL = 60  # a token minted after a refusal is not replaced again sooner


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


@dataclass(slots=True)
class _CachedToken:
    token: str
    minted: float
    after_refusal: bool = False
    stale: bool = False


class _ProviderTokens:
    """Process-wide cache of APNs provider JWTs, one per (team id, key id), shared by every backend."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, str], _CachedToken] = {}
        self.mints = 0

    def get(
        self,
        team_id: str,
        key_id: str,
        key: ec.EllipticCurvePrivateKey,
        *,
        ttl: float,
        now: float,
        refused: str | None = None,
    ) -> str:
        """The current token. A new one is minted only when ours is older than ``ttl`` (and never
        within 20 minutes of the last mint), or when APNs refused exactly the cached one as expired."""
        with self._lock:
            cached = self._tokens.get((team_id, key_id))
            if cached is not None:
                age = now - cached.minted
                if refused is None:
                    if age < MIN_MINT_INTERVAL or (age < ttl and not cached.stale):
                        return cached.token
                elif cached.token != refused:
                    return cached.token  # another stream already replaced the refused token
                elif cached.after_refusal and age < REFUSAL_REMINT_INTERVAL:
                    return cached.token  # refused again at once: a clock problem, not an old token
            token = mint_provider_token(team_id, key_id, key, now)
            self._tokens[(team_id, key_id)] = _CachedToken(token, now, after_refusal=refused is not None)
            self.mints += 1
            return token

    def invalidate(self) -> None:
        """Replace every token at its next use, as soon as Apple's 20-minute limit allows."""
        with self._lock:
            for cached in self._tokens.values():
                cached.stale = True

    def clear(self) -> None:
        """Forget every token (tests; a new process starts like this)."""
        with self._lock:
            self._tokens.clear()


provider_tokens = _ProviderTokens()


def jwt_mint_count() -> int:
    """How many provider tokens this process has minted (for tests and monitoring)."""
    return provider_tokens.mints
