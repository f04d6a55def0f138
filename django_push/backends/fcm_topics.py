"""FCM topic membership through Google's Instance ID server API (``iid/v1:batchAdd``/``:batchRemove``).

Why: so that a topic audience of FCM devices can go as one FCM topic send, FCM's own topics must hold
the same tokens as the local Subscriptions. Instance ID takes up to 1,000 registration tokens per call::

    POST https://iid.googleapis.com/iid/v1:batchAdd
    Authorization: Bearer <the OAuth2 token FCM sends use>      access_token_auth: true
    {"to": "/topics/news", "registration_tokens": ["…", …]}
    → 200 {"results": [{}, {"error": "NOT_FOUND"}, {"error": "INVALID_ARGUMENT"}, …]}  (in order)

Pure like every backend: it builds the request and turns the answer into one :class:`SendResult` per
token (dispatch applies them). Sent on the FCM backend's connection pool with its credentials, through
the same :meth:`~django_push.backends.http.HTTPBackend.exchange` machinery, so a request the service
never processed is resent at once and an expired token is handled the same way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import httpx

from django_push.backends.http import retry_after_seconds
from django_push.exceptions import InvalidTarget, PushAuthError
from django_push.results import DeliveryStatus, SendResult

TOPIC_RE = re.compile(r"^[a-zA-Z0-9\-_.~%]{1,900}$")  # FCM's topic names (also for topic sends)
IID_BATCH_LIMIT = 1000
ACTIONS = {"add": "batchAdd", "remove": "batchRemove"}
#: Per-token errors: the token is gone (deactivate the device) / the token or topic is malformed.
TOKEN_GONE = frozenset({"NOT_FOUND"})
TOKEN_INVALID = frozenset({"INVALID_ARGUMENT"})
RETRY_LATER = frozenset({"INTERNAL", "UNAVAILABLE", "TOO_MANY_TOPICS"})


def batch_url(base: str, action: str) -> str:
    """``<iid_url>:batchAdd`` or ``:batchRemove``; ``action`` is "add" or "remove"."""
    if action not in ACTIONS:
        raise ValueError(f"action must be 'add' or 'remove', not {action!r}")
    return f"{base.rstrip('/')}:{ACTIONS[action]}"


def build_batch_request(base: str, action: str, topic: str, tokens: Sequence[str]) -> httpx.Request:
    """The batch request, without credentials. At most :data:`IID_BATCH_LIMIT` tokens."""
    name = topic.removeprefix("/topics/")
    if not TOPIC_RE.match(name):
        raise InvalidTarget(f"FCM topic names match [a-zA-Z0-9-_.~%]+, not {topic!r}")
    if not tokens or len(tokens) > IID_BATCH_LIMIT:
        raise ValueError(f"an Instance ID batch takes 1 to {IID_BATCH_LIMIT} tokens, not {len(tokens)}")
    body = json.dumps({"to": f"/topics/{name}", "registration_tokens": list(tokens)}).encode()
    headers = {"content-type": "application/json", "access_token_auth": "true"}
    return httpx.Request("POST", batch_url(base, action), headers=headers, content=body)


def parse_batch_response(tokens: Sequence[str], response: httpx.Response) -> list[SendResult]:
    """One result per token, in order. A whole-call failure gives every token the same result
    (THROTTLED/UNAVAILABLE are retried; REJECTED is not); refused credentials raise PushAuthError."""
    status = response.status_code
    try:
        payload: Any = response.json() if response.content else {}
    except ValueError:
        payload = {}
    if status in (401, 403):
        raise PushAuthError(
            f"Instance ID refused the FCM service account ({status}): it needs the Firebase Cloud "
            "Messaging API and permission to manage topics",
            reason=str(status),
            status_code=status,
        )
    whole: SendResult | None = None
    reason = f"Instance ID answered {status}"
    if status == 429:
        whole = SendResult(
            DeliveryStatus.THROTTLED,
            error_code="429",
            reason=reason,
            status_code=status,
            retry_after=retry_after_seconds(response),
        )
    elif status >= 500:
        whole = SendResult(
            DeliveryStatus.UNAVAILABLE,
            error_code=str(status),
            reason=reason,
            status_code=status,
            retry_after=retry_after_seconds(response),
        )
    elif status != 200:
        detail = payload.get("error") if isinstance(payload, dict) else ""
        whole = SendResult(
            DeliveryStatus.REJECTED,
            error_code=str(status),
            reason=f"{reason}: {detail}" if detail else reason,
            status_code=status,
        )
    results = payload.get("results") if isinstance(payload, dict) else None
    if whole is None and (not isinstance(results, list) or len(results) != len(tokens)):
        whole = SendResult(
            DeliveryStatus.UNAVAILABLE,
            error_code="bad_answer",
            status_code=status,
            reason=f"{reason} without one result per token",
        )
    if whole is not None:
        return [whole] * len(tokens)
    assert isinstance(results, list)
    return [_token_result(item, status) for item in results]


def _token_result(item: Any, status: int) -> SendResult:
    error = str(item.get("error", "")) if isinstance(item, dict) else "bad_answer"
    if not error:
        return SendResult.sent(status_code=status)
    reason = f"Instance ID: {error}"
    if error in TOKEN_GONE:
        return SendResult(DeliveryStatus.INVALID_TOKEN, error_code=error, reason=reason, status_code=status)
    if error in RETRY_LATER:
        return SendResult(DeliveryStatus.UNAVAILABLE, error_code=error, reason=reason, status_code=status)
    return SendResult(DeliveryStatus.REJECTED, error_code=error, reason=reason, status_code=status)


async def manage_topic(backend: Any, action: str, topic: str, tokens: Sequence[str]) -> list[SendResult]:
    """Add ``tokens`` to (or remove them from) ``topic``, in calls of 1,000; one result per token.

    ``backend`` is an :class:`~django_push.backends.fcm.FCMBackend` (not imported: fcm imports this).
    Transport failures become results as for a send (UNAVAILABLE: the caller retries them); refused
    credentials raise PushAuthError, as for a send."""
    from django_push.backends.base import result_for_exception

    if not backend.opened:
        await backend.aopen()
    await backend.ensure_token()
    base = str(backend.options["iid_url"])
    results: list[SendResult] = []
    for start in range(0, len(tokens), IID_BATCH_LIMIT):
        chunk = list(tokens[start : start + IID_BATCH_LIMIT])
        try:
            # The send path's own machinery (HTTPBackend._send): authorize with the FCM OAuth token,
            # resend at once what the service provably never processed.
            sent = await backend._send(lambda chunk=chunk: build_batch_request(base, action, topic, chunk))
        except PushAuthError:
            raise
        except Exception as exc:
            mapped = result_for_exception(exc)
            if mapped is None:
                raise
            results += [mapped] * len(chunk)
            continue
        if isinstance(sent, SendResult):  # no usable OAuth token (UNAVAILABLE)
            results += [sent] * len(chunk)
        else:
            results += parse_batch_response(chunk, sent[1])
    return results
