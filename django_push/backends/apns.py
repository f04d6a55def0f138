"""Apple Push Notification service over HTTP/2, with token (JWT) or certificate authentication.

Provider tokens are shared per (team, key) by every backend instance in the process and, through the
Django cache named by ``token_cache``, by every process using that cache: Apple refuses more than one
new token per 20 minutes per key (429 TooManyProviderTokenUpdates) and wants a token at most an hour
old, so one is minted and reused for ``token_ttl`` seconds (50 minutes by default). When APNs answers
403 ExpiredProviderToken, the refused token is replaced once (not once per stream, nor once per
process, that saw the refusal) and the target is retried once. When it answers 429
TooManyProviderTokenUpdates, another process's token is newer: the target is retried once with the
shared token if it differs from the refused one, else the result is THROTTLED and the refused token
is not sent again for a minute (see :mod:`django_push.backends.apns_tokens`).

What a message becomes on the wire is built in :mod:`~django_push.backends.apns_requests`; what an answer
means is read in :mod:`~django_push.backends.apns_answers`.
"""

from __future__ import annotations

import contextlib
import math
import re
import ssl
import time
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Any, ClassVar

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from django_push.backends.apns_answers import (
    AUTH_HINTS,
    TOO_MANY_TOKEN_UPDATES,
    response_body,
    result_for,
)
from django_push.backends.apns_channels import ChannelsMixin
from django_push.backends.apns_requests import encode_message
from django_push.backends.apns_tokens import (
    MAX_TOKEN_TTL,
    MIN_MINT_INTERVAL,
    UPDATE_REFUSAL_RETRY,
    load_signing_key,
    mint_provider_token,
    provider_tokens,
)
from django_push.backends.base import REQUIRED
from django_push.backends.http import retry_after_seconds, url_with_path
from django_push.exceptions import (
    InvalidTarget,
    PushAuthError,
    PushConfigurationError,
)
from django_push.message import PushMessage, Target
from django_push.results import DeliveryStatus, SendResult

DEVICE_TOKEN_RE = re.compile(r"^[0-9A-Fa-f]{8,512}$")


# Per exchange (each target's exchange runs in its own task, and authorize → send → parse_response run
# in order within it): the provider token the last request carried, and the target whose request is
# the retry after refresh_credentials, so a second TooManyProviderTokenUpdates becomes THROTTLED
# instead of a PushAuthError that would stop the batch.
_SENT_TOKEN: ContextVar[str] = ContextVar("django_push_apns_sent_token", default="")
_RETRYING: ContextVar[str | None] = ContextVar("django_push_apns_retrying", default=None)


class APNsBackend(ChannelsMixin):
    """APNs provider API (HTTP/2). Options are documented in docs/apns.md; broadcasts and channel
    management (Live Activities, iOS 18) in docs/live-activities.md."""

    platform = "apns"
    default_options: ClassVar[dict[str, Any]] = {
        "team_id": None,
        "key_id": None,
        "key": None,
        "key_file": None,
        "cert_file": None,
        "cert_key_file": None,
        "cert_password": None,
        "topic": REQUIRED,
        "production_url": "https://api.push.apple.com",
        "sandbox_url": "https://api.sandbox.push.apple.com",
        # Broadcast channel management (create, list, read, delete channels), per environment.
        "management_production_url": "https://api-manage-broadcast.push.apple.com:2196",
        "management_sandbox_url": "https://api-manage-broadcast.sandbox.push.apple.com:2195",
        "token_ttl": 3000,
        # The Django cache alias that shares provider tokens between processes (None: per process).
        "token_cache": "default",
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        o, path = self.options, self.setting_path
        token_auth = bool(o["key"] or o["key_file"])
        cert_auth = bool(o["cert_file"])
        if token_auth == cert_auth:
            raise PushConfigurationError(
                f"{path} needs exactly one APNs authentication: token auth ('team_id', 'key_id' and "
                "'key' or 'key_file') or certificate auth ('cert_file')"
                + (", not both" if token_auth else "")
            )
        if o["key"] and o["key_file"]:
            raise PushConfigurationError(f"{path}: give 'key' (the PEM text) or 'key_file', not both")
        if token_auth and not (o["team_id"] and o["key_id"]):
            raise PushConfigurationError(f"{path}: token authentication needs 'team_id' and 'key_id'")
        if not isinstance(o["topic"], str) or not o["topic"] or o["topic"] != o["topic"].strip():
            raise PushConfigurationError(
                f"{path}['topic'] must be the app's bundle id, e.g. 'com.example.app'"
            )
        if (
            not isinstance(o["token_ttl"], int | float)
            or not MIN_MINT_INTERVAL <= o["token_ttl"] <= MAX_TOKEN_TTL
        ):
            raise PushConfigurationError(
                f"{path}['token_ttl'] must be {MIN_MINT_INTERVAL}..{MAX_TOKEN_TTL} seconds: Apple refuses "
                "a new token more often than every 20 minutes and a token older than an hour"
            )
        cache_alias = o["token_cache"]
        if cache_alias is not None:
            from django.conf import settings

            if not isinstance(cache_alias, str) or cache_alias not in settings.CACHES:
                raise PushConfigurationError(
                    f"{path}['token_cache'] must name one of settings.CACHES "
                    f"({', '.join(map(repr, settings.CACHES)) or 'none configured'}) or be None; "
                    f"got {cache_alias!r}"
                )
        self.token_auth = token_auth
        self._signing_key: ec.EllipticCurvePrivateKey | None = None
        if o["key"]:
            try:
                self._signing_key = load_signing_key(o["key"])
            except ValueError as exc:
                raise PushConfigurationError(f"{path}['key'] is not a usable APNs key: {exc}") from exc
        self._ssl_context: ssl.SSLContext | None = None
        self._encoded: tuple[PushMessage, bytes, dict[str, str]] | None = None
        self.clock = time.time  # the test seam for token ages and apns-expiration
        self.tokens = provider_tokens  # the process's token state (a test seam: one per "process")

    # -- credentials ---------------------------------------------------------------------------------
    def signing_key(self) -> ec.EllipticCurvePrivateKey:
        """The .p8 key, read from ``key_file`` on first use; PushAuthError if it is unusable."""
        if self._signing_key is None:
            path = self.options["key_file"]
            try:
                with open(path, "rb") as f:
                    self._signing_key = load_signing_key(f.read())
            except (OSError, ValueError) as exc:
                raise PushAuthError(
                    f"{self.setting_path}['key_file'] ({path}) is not a usable APNs key: {exc}",
                    reason="InvalidProviderKey",
                ) from exc
        return self._signing_key

    def provider_token(self, refused: str | None = None) -> str:
        """The provider token to send: this process's while it is good (no I/O), else the shared one
        or a new one (may wait up to 2 s for another process's mint)."""
        o = self.options
        key, ttl, now = self.signing_key(), float(o["token_ttl"]), self.clock()
        if refused is None:
            token = self.tokens.current(o["team_id"], o["key_id"], ttl=ttl, now=now)
            if token is not None:
                return token
        return self.tokens.get(
            o["team_id"], o["key_id"], key, ttl=ttl, now=now, refused=refused, cache=o["token_cache"]
        )

    async def aprovider_token(self, refused: str | None = None) -> str:
        """:meth:`provider_token` without blocking the push loop while another process mints."""
        o = self.options
        key, ttl, now = self.signing_key(), float(o["token_ttl"]), self.clock()
        if refused is None:
            token = self.tokens.current(o["team_id"], o["key_id"], ttl=ttl, now=now)
            if token is not None:
                return token
        return await self.tokens.aget(
            o["team_id"], o["key_id"], key, ttl=ttl, now=now, refused=refused, cache=o["token_cache"]
        )

    def ssl_context(self) -> ssl.SSLContext | None:
        """For certificate auth: a context holding the client certificate (honours ``verify``)."""
        if self.token_auth:
            return None
        if self._ssl_context is None:
            verify = self.options["verify"]
            ctx = ssl.create_default_context(cafile=verify if isinstance(verify, str) else None)
            if verify is False:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            o = self.options
            try:
                ctx.load_cert_chain(o["cert_file"], o["cert_key_file"] or None, o["cert_password"] or None)
            except (OSError, ssl.SSLError) as exc:
                raise PushAuthError(
                    f"{self.setting_path}['cert_file'] cannot be loaded with its key: {exc}",
                    reason="BadCertificate",
                ) from exc
            self._ssl_context = ctx
        return self._ssl_context

    async def prepare(self, message: PushMessage) -> None:
        self._encoded = None
        if self.token_auth:
            # Mint before the streams start, so they share one token. A broken key is raised again
            # per target by build_request, where the base class records it.
            with contextlib.suppress(PushAuthError):
                await self.aprovider_token()

    # -- requests ------------------------------------------------------------------------------------
    def encode(self, message: PushMessage) -> tuple[bytes, dict[str, str]]:
        """The body and target-independent headers of ``message`` (cached while a batch runs)."""
        cached = self._encoded
        if cached is not None and cached[0] is message:
            return cached[1], cached[2]
        body, headers = encode_message(message, self.options["topic"], self.clock)
        self._encoded = (message, body, headers)
        return body, headers

    def build_request(self, message: PushMessage, target: Target) -> httpx.Request:
        if not DEVICE_TOKEN_RE.match(target.address):
            raise InvalidTarget("an APNs device token is 8-512 hexadecimal characters")
        body, headers = self.encode(message)
        base = self.options["sandbox_url" if target.environment == "sandbox" else "production_url"]
        return httpx.Request(
            "POST", url_with_path(base, f"/3/device/{target.address}"), headers=headers, content=body
        )

    def authorize(self, request: httpx.Request) -> SendResult | None:
        if self.token_auth:
            token = self.provider_token()
            held = self.tokens.throttled_for(
                self.options["team_id"], self.options["key_id"], token, now=self.clock()
            )
            if held > 0:
                # APNs refused this token with TooManyProviderTokenUpdates and no other one is
                # shared: sending it again now would only be refused again.
                _RETRYING.set(None)
                return self.token_update_refused(retry_after=float(math.ceil(held)))
            _SENT_TOKEN.set(token)
            request.headers["authorization"] = f"bearer {token}"
        return None

    async def refresh_credentials(self, error: PushAuthError, request: httpx.Request) -> bool:
        if not self.token_auth or error.reason not in ("ExpiredProviderToken", TOO_MANY_TOKEN_UPDATES):
            return False
        refused = request.headers.get("authorization", "")[len("bearer ") :]
        address = request.url.path.rsplit("/", 1)[-1]
        if error.reason == "ExpiredProviderToken":
            # One new token, whichever stream (or process) gets here first.
            await self.aprovider_token(refused=refused)
            _RETRYING.set(address)
            return True
        o = self.options
        adopted = self.tokens.adopt_after_update_refusal(
            o["team_id"], o["key_id"], refused, now=self.clock(), cache=o["token_cache"]
        )
        if adopted is not None:
            _RETRYING.set(address)  # retried once with the other process's token
        # Else the refused token is now held back: the retry's authorize answers THROTTLED and
        # sends nothing.
        return True

    def token_update_refused(self, retry_after: float, status_code: int | None = None) -> SendResult:
        """THROTTLED: APNs refuses our provider token as a too-frequent update. Not the device's
        fault, and the push was not processed: it costs no attempt."""
        return SendResult(
            DeliveryStatus.THROTTLED,
            error_code=TOO_MANY_TOKEN_UPDATES,
            reason="APNs answered 429 TooManyProviderTokenUpdates: another process minted a newer "
            "provider token for this key, and no other token is shared with this process (set the "
            "'token_cache' option to a cache every worker reaches, e.g. Redis)",
            retry_after=retry_after,
            status_code=status_code,
            counts_attempt=False,
        )

    def refused_after_refresh(self, error: PushAuthError) -> PushAuthError:
        if error.reason == "ExpiredProviderToken":
            return PushAuthError(
                f"APNs refused our credentials: {AUTH_HINTS['ExpiredProviderToken']}",
                reason="ExpiredProviderToken",
                status_code=403,
            )
        return error

    # -- answers -------------------------------------------------------------------------------------
    def parse_response(self, target: Target, response: httpx.Response) -> SendResult:
        retried = _RETRYING.get() == target.address
        if retried:
            _RETRYING.set(None)
        status = response.status_code
        if status == 200:
            # A push answers apns-id; a broadcast apns-request-id.
            headers = response.headers
            return SendResult.sent(headers.get("apns-id") or headers.get("apns-request-id", ""))
        body = response_body(response)
        reason = str(body.get("reason", ""))
        if status == 429 and reason == TOO_MANY_TOKEN_UPDATES and self.token_auth:
            if not retried:
                # Our token is refused, not the push: refresh_credentials adopts the shared token.
                raise PushAuthError(
                    f"APNs refused our provider token ({reason}): another process minted a newer one",
                    reason=reason,
                    status_code=status,
                )
            # Refused again after a refresh: hold that token back too, never retry it blindly.
            o = self.options
            self.tokens.throttle(o["team_id"], o["key_id"], _SENT_TOKEN.get(), now=self.clock())
            return self.token_update_refused(
                max(retry_after_seconds(response) or 0.0, UPDATE_REFUSAL_RETRY), status_code=status
            )
        return result_for(response, body)

    # -- checks --------------------------------------------------------------------------------------
    def check_credentials(self, *, fetch_token: bool = False) -> str:
        """Prove the credentials are usable without any network call; raise with what is wrong.

        Token auth: load the key and sign a provider token (not cached, never sent: it does not
        count against Apple's 20-minute limit). Certificate auth: load the chain and check its dates.
        """
        if self.token_auth:
            key = self.signing_key()
            token = mint_provider_token(self.options["team_id"], self.options["key_id"], key, time.time())
            jwt.decode(token, key.public_key(), algorithms=["ES256"], options={"verify_iat": False})
            return (
                f"token auth: key {self.options['key_id']} of team {self.options['team_id']} signs "
                f"provider tokens; topic {self.options['topic']}"
            )
        from cryptography import x509

        self.ssl_context()
        try:
            with open(self.options["cert_file"], "rb") as f:
                cert = x509.load_pem_x509_certificate(f.read())
        except (OSError, ValueError) as exc:
            raise PushConfigurationError(f"{self.setting_path}['cert_file'] cannot be loaded: {exc}") from exc
        now = datetime.now(timezone.utc)
        if cert.not_valid_after_utc < now:
            raise PushConfigurationError(
                f"{self.setting_path}['cert_file'] expired on {cert.not_valid_after_utc:%Y-%m-%d}"
            )
        until = f"{cert.not_valid_after_utc:%Y-%m-%d}"
        return f"certificate auth: {cert.subject.rfc4514_string()} valid until {until}"
