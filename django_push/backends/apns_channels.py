"""APNs broadcast push (iOS 18): one request per channel instead of one per device, and the channel
management API that creates, lists, reads and deletes channels.

Apple's references:

* "Sending broadcast push notification requests to APNs": ``POST /4/broadcasts/apps/<bundle id>`` on
  the usual APNs host with ``apns-channel-id``, ``apns-push-type: liveactivity``, ``apns-priority``
  and optionally ``apns-expiration``
  (https://developer.apple.com/documentation/usernotifications/sending-broadcast-push-notification-requests-to-apns).
* "Sending channel management requests to APNs": on ``api-manage-broadcast.push.apple.com:2196``
  (production) or ``api-manage-broadcast.sandbox.push.apple.com:2195`` (development),
  ``POST /1/apps/<bundle id>/channels`` with ``{"message-storage-policy": 0|1, "push-type":
  "LiveActivity"}`` (201, the new id in ``apns-channel-id``), ``GET`` and ``DELETE`` of the same path
  with ``apns-channel-id`` (200 with the channel's configuration; 204), and
  ``GET /1/apps/<bundle id>/all-channels`` (200, ``{"channels": [...]}``)
  (https://developer.apple.com/documentation/usernotifications/sending-channel-management-requests-to-apns).

Pure request builders and answer readers here; :class:`ChannelsMixin` gives
:class:`~django_push.backends.apns.APNsBackend` the calls, through the same transport, pool and
provider token as its pushes. The database side is :mod:`django_push.compose.broadcast_channels`.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from typing import Any

import httpx

from django_push.backends import apns_live
from django_push.backends.apns_answers import response_body
from django_push.backends.base import result_for_exception
from django_push.backends.http import HTTPBackend
from django_push.backends.payload import dumps
from django_push.exceptions import ChannelError, MessageRejected, PushAuthError
from django_push.message import PushMessage, Target
from django_push.results import SendResult
from django_push.transport import loop

#: 0: APNs keeps nothing for a device that is offline; 1: it keeps the most recent message.
STORAGE_POLICIES = (0, 1)
CHANNEL_PUSH_TYPE = "LiveActivity"
ENVIRONMENTS = ("production", "sandbox")


def check_channel_id(channel_id: str) -> str:
    """A channel id as APNs issued it (base64 text, sent in a header): refuse what cannot be one
    (empty, not printable ASCII, over 255 characters) before any request."""
    if (
        not isinstance(channel_id, str)
        or not 0 < len(channel_id) <= 255
        or not all(33 <= ord(c) <= 126 for c in channel_id)
    ):
        raise ChannelError(f"{channel_id!r} is not an APNs channel id", reason="BadChannelId")
    return channel_id


def _environment(environment: str) -> str:
    if environment not in ENVIRONMENTS:
        raise ChannelError(f"environment must be one of {', '.join(ENVIRONMENTS)}, not {environment!r}")
    return environment


def channel_failure(response: httpx.Response, action: str) -> ChannelError:
    """What a refused channel request means, with APNs' own reason (BadChannelId, ChannelNotRegistered …)."""
    reason = str(response_body(response).get("reason", "")) or str(response.status_code)
    hint = {
        "BadChannelId": "the channel id is malformed",
        "ChannelNotRegistered": "no such channel for this app (deleted, or created in the other environment)",
        "BadMessageStoragePolicy": "message-storage-policy must be 0 or 1",
        "CannotCreateChannelConfig": "the app has reached its channel limit (10,000 per environment)",
        "FeatureNotEnabled": "broadcast is not enabled for this app id in the developer account",
    }.get(reason, "")
    text = f"APNs refused to {action} ({response.status_code} {reason})" + (f": {hint}" if hint else "")
    return ChannelError(text, reason=reason, status_code=response.status_code)


class ChannelsMixin(HTTPBackend):
    """Broadcasts and channel management for the APNs backend (see the module docstring)."""

    clock: Callable[[], float]  # set by APNsBackend: the time apns-expiration counts from

    # -- broadcast -----------------------------------------------------------------------------------
    def build_broadcast(self, message: PushMessage, channel_id: str, environment: str) -> httpx.Request:
        """Pure: the broadcast request (without credentials) for ``message`` on ``channel_id``."""
        check_channel_id(channel_id)
        body, headers = apns_live.encode(message, self.clock, broadcast=True)
        headers["apns-channel-id"] = channel_id
        base = self.options["sandbox_url" if _environment(environment) == "sandbox" else "production_url"]
        return httpx.Request(
            "POST",
            f"{base.rstrip('/')}/4/broadcasts/apps/{self.options['topic']}",
            headers=headers,
            content=body,
        )

    async def abroadcast(
        self, message: PushMessage, channel_id: str, environment: str = "production"
    ) -> SendResult:
        """Send ``message`` (an update or end) to every device subscribed to ``channel_id``: one request.

        A malformed message is refused before sending (REJECTED, like a push); an answer is read as a
        push's is (REJECTED for BadChannelId/ChannelNotRegistered, THROTTLED, UNAVAILABLE …)."""
        if not self.opened:
            await self.aopen()
        await self.prepare(message)
        target = Target(self.options["topic"], environment=environment)
        try:
            return await self.exchange(lambda: self.build_broadcast(message, channel_id, environment), target)
        except PushAuthError:
            raise
        except Exception as exc:
            result = result_for_exception(exc)
            if result is None:
                raise
            return result

    def broadcast(self, message: PushMessage, channel_id: str, environment: str = "production") -> SendResult:
        """Synchronous :meth:`abroadcast` (on the process's push loop)."""
        return loop.run(self.abroadcast(message, channel_id, environment))

    # -- channel management --------------------------------------------------------------------------
    def management_url(self, environment: str, path: str) -> str:
        key = (
            "management_sandbox_url"
            if _environment(environment) == "sandbox"
            else "management_production_url"
        )
        return f"{self.options[key].rstrip('/')}/1/apps/{self.options['topic']}/{path}"

    async def _manage(
        self, method: str, environment: str, path: str, headers: dict[str, str], body: Any = None
    ) -> httpx.Response:
        url = self.management_url(environment, path)
        content = dumps(body) if body is not None else None

        def build() -> httpx.Request:
            return httpx.Request(method, url, headers=headers, content=content)

        if not self.opened:
            await self.aopen()
        await self.prepare(PushMessage())
        sent = await self._send(build)
        if isinstance(sent, SendResult):  # the provider token is held back (TooManyProviderTokenUpdates)
            raise ChannelError(sent.reason, reason=sent.error_code, status_code=sent.status_code)
        return sent[1]

    async def acreate_channel(self, storage_policy: int = 1, environment: str = "production") -> str:
        """Create a channel; returns the id APNs gave it (raises :class:`ChannelError`)."""
        if storage_policy not in STORAGE_POLICIES:
            raise ChannelError(
                f"message storage policy must be 0 (no message stored) or 1 (most recent message stored), "
                f"not {storage_policy!r}",
                reason="BadMessageStoragePolicy",
            )
        response = await self._manage(
            "POST",
            environment,
            "channels",
            {"content-type": "application/json"},
            {"message-storage-policy": storage_policy, "push-type": CHANNEL_PUSH_TYPE},
        )
        channel_id = response.headers.get("apns-channel-id", "")
        if response.status_code not in (200, 201) or not channel_id:
            raise channel_failure(response, "create a channel")
        return channel_id

    async def aread_channel(self, channel_id: str, environment: str = "production") -> dict[str, Any]:
        """The channel's configuration: ``{"message-storage-policy": …, "push-type": …}``."""
        response = await self._manage(
            "GET", environment, "channels", {"apns-channel-id": check_channel_id(channel_id)}
        )
        if response.status_code != 200:
            raise channel_failure(response, "read the channel")
        return response_body(response)

    async def alist_channels(self, environment: str = "production") -> list[str]:
        """Every channel id of the app in ``environment``."""
        response = await self._manage("GET", environment, "all-channels", {})
        if response.status_code != 200:
            raise channel_failure(response, "list the channels")
        channels = response_body(response).get("channels", [])
        return [str(c) for c in channels] if isinstance(channels, list) else []

    async def adelete_channel(self, channel_id: str, environment: str = "production") -> None:
        """Delete a channel (devices subscribed to it get nothing more)."""
        response = await self._manage(
            "DELETE", environment, "channels", {"apns-channel-id": check_channel_id(channel_id)}
        )
        if response.status_code not in (200, 204):
            raise channel_failure(response, "delete the channel")

    def create_channel(self, storage_policy: int = 1, environment: str = "production") -> str:
        return loop.run(self.acreate_channel(storage_policy, environment))

    def read_channel(self, channel_id: str, environment: str = "production") -> dict[str, Any]:
        return loop.run(self.aread_channel(channel_id, environment))

    def list_channels(self, environment: str = "production") -> list[str]:
        return loop.run(self.alist_channels(environment))

    def delete_channel(self, channel_id: str, environment: str = "production") -> None:
        loop.run(self.adelete_channel(channel_id, environment))


class LocalChannelsMixin:
    """Broadcasts and channels for the generic backends (console, locmem, dummy), so a site without
    APNs credentials (the example project, a site's tests) runs the same code.

    A broadcast is checked by Apple's rules (:func:`apns_live.encode`) and then handed to the
    backend's own ``send_one`` as one push to the target ``channel:<id>``; channels live in this
    process's memory.
    """

    async def abroadcast(
        self: Any, message: PushMessage, channel_id: str, environment: str = "production"
    ) -> SendResult:
        check_channel_id(channel_id)
        try:
            apns_live.encode(message, lambda: 0.0, broadcast=True)
        except MessageRejected as exc:
            return result_for_exception(exc)  # type: ignore[return-value]
        results = await self.asend(message, [Target(f"channel:{channel_id}", environment=environment)])
        return results[0]

    def broadcast(
        self: Any, message: PushMessage, channel_id: str, environment: str = "production"
    ) -> SendResult:
        return loop.run(self.abroadcast(message, channel_id, environment))

    def create_channel(self: Any, storage_policy: int = 1, environment: str = "production") -> str:
        if storage_policy not in STORAGE_POLICIES:
            raise ChannelError("message storage policy must be 0 or 1", reason="BadMessageStoragePolicy")
        channel_id = base64.b64encode(os.urandom(16)).decode()
        local_channels[(_environment(environment), channel_id)] = storage_policy
        return channel_id

    def read_channel(self: Any, channel_id: str, environment: str = "production") -> dict[str, Any]:
        policy = local_channels.get((_environment(environment), check_channel_id(channel_id)))
        if policy is None:
            raise ChannelError("no such channel", reason="ChannelNotRegistered", status_code=404)
        return {"message-storage-policy": policy, "push-type": CHANNEL_PUSH_TYPE}

    def list_channels(self: Any, environment: str = "production") -> list[str]:
        return [cid for (env, cid) in local_channels if env == _environment(environment)]

    def delete_channel(self: Any, channel_id: str, environment: str = "production") -> None:
        if local_channels.pop((_environment(environment), check_channel_id(channel_id)), None) is None:
            raise ChannelError("no such channel", reason="ChannelNotRegistered", status_code=404)


#: The generic backends' channels: (environment, channel id) → message storage policy.
local_channels: dict[tuple[str, str], int] = {}
