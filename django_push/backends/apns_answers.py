"""What APNs' answers mean: the reasons that are our credentials' fault (raised, with a hint), the
reasons that mean the device token is dead, and every other status → SendResult.

Pure: a response in, a SendResult (or PushAuthError) out. The one answer that needs the provider-token
state, 429 TooManyProviderTokenUpdates to token auth, is read by
:meth:`django_push.backends.apns.APNsBackend.parse_response` before it hands the rest to :func:`result_for`.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import httpx

from django_push.backends.http import retry_after_seconds
from django_push.exceptions import PushAuthError
from django_push.results import DeliveryStatus, SendResult

# Answers that mean our credentials or configuration are wrong for every target: raise.
AUTH_HINTS = {
    "InvalidProviderToken": "the provider token's signature or claims are invalid: check team_id, key_id "
    "and that the key is the .p8 file of that key id",
    "MissingProviderToken": "no provider token and no client certificate: configure key/key_file or "
    "cert_file",
    "ExpiredProviderToken": "APNs says the provider token is expired even right after minting a new one: "
    "check this machine's clock",
    "BadCertificate": "the client certificate was refused",
    "BadCertificateEnvironment": "the client certificate is for the other environment (sandbox/production)",
    "BadEnvironmentKeyIdInToken": "the key is restricted to the other environment (sandbox/production) in "
    "the Apple developer account",
    "BadEnvironmentKeyInToken": "the key is restricted to the other environment (sandbox/production) in "
    "the Apple developer account",
    "UnrelatedKeyIdInToken": "key_id belongs to another team than team_id",
    "Forbidden": "APNs does not allow this action for these credentials",
    "TopicDisallowed": "these credentials may not push to this topic: check the topic option",
    "BadTopic": "the apns-topic is invalid: check the topic option (the app's bundle id)",
    "MissingTopic": "no apns-topic: set the topic option (the app's bundle id)",
}
INVALID_TOKEN_REASONS = frozenset(
    {"BadDeviceToken", "DeviceTokenNotForTopic", "Unregistered", "ExpiredToken"}
)
TOO_MANY_TOKEN_UPDATES = "TooManyProviderTokenUpdates"


def response_body(response: httpx.Response) -> dict[str, Any]:
    """The JSON object of an APNs answer ({} when there is none, or it is not an object)."""
    try:
        body = response.json() if response.content else {}
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    return body


def result_for(response: httpx.Response, body: dict[str, Any]) -> SendResult:
    """What an APNs answer other than 200 means; raises PushAuthError when our credentials are at fault."""
    status = response.status_code
    reason = str(body.get("reason", ""))
    described = f"APNs answered {status} {reason}".strip()
    if status == 403 or reason in AUTH_HINTS:
        hint = AUTH_HINTS.get(reason, "the credentials were refused")
        raise PushAuthError(
            f"APNs refused our credentials ({reason or status}): {hint}",
            reason=reason or str(status),
            status_code=status,
        )
    if status == 410 or reason in INVALID_TOKEN_REASONS:
        since = None
        if body.get("timestamp"):
            try:
                since = datetime.fromtimestamp(int(body["timestamp"]) / 1000, tz=timezone.utc)
            except (TypeError, ValueError, OverflowError):
                since = None
        return SendResult(
            DeliveryStatus.INVALID_TOKEN,
            error_code=reason or str(status),
            reason=described,
            invalid_since=since,
            status_code=status,
        )
    if status == 429:
        return SendResult(
            DeliveryStatus.THROTTLED,
            error_code=reason or "429",
            reason=described,
            retry_after=retry_after_seconds(response),
            status_code=status,
        )
    if status >= 500:
        return SendResult(
            DeliveryStatus.UNAVAILABLE,
            error_code=reason or str(status),
            reason=described,
            retry_after=retry_after_seconds(response),
            status_code=status,
        )
    return SendResult(
        DeliveryStatus.REJECTED, error_code=reason or str(status), reason=described, status_code=status
    )
