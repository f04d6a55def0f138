"""Service-neutral payloads (:class:`PushMessage`) and addresses (:class:`Target`).

Backends translate these into each service's wire format; callers never build provider dicts, but
may pass per-platform ``overrides`` that are deep-merged into the provider payload last.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Priority = Literal["critical", "high", "normal", "low"]
PRIORITIES: tuple[str, ...] = ("critical", "high", "normal", "low")

APNS_PUSH_TYPES: tuple[str, ...] = (
    "alert",
    "background",
    "voip",
    "location",
    "complication",
    "fileprovider",
    "mdm",
    "liveactivity",
    "pushtotalk",
    "widgets",
    "controls",
)


@dataclass(slots=True)
class PushMessage:
    """One notification's content, the same for every platform.

    ``ttl`` is in seconds (None: the service default; Web Push uses WEBPUSH_DEFAULT_TTL, never 0 by
    accident). ``overrides`` maps a platform ("apns", "fcm", "webpush") to a dict merged into that
    platform's payload, for the rare field this class does not model.
    """

    title: str = ""
    body: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    priority: Priority = "normal"
    ttl: int | None = None
    collapse_key: str = ""
    push_type: str = "alert"
    badge: int | None = None
    sound: str | dict[str, Any] | None = None
    category: str = ""
    thread_id: str = ""
    image: str = ""
    icon: str = ""
    url: str = ""
    channel_id: str = ""
    title_loc_key: str = ""
    title_loc_args: list[str] = field(default_factory=list)
    loc_key: str = ""
    loc_args: list[str] = field(default_factory=list)
    mutable_content: bool = False
    content_available: bool = False
    relevance_score: float | None = None
    interruption_level: str = ""
    #: An ActivityKit push (``push_type="liveactivity"``): event, timestamp, content_state … as
    #: :mod:`django_push.backends.apns_live` documents; None for every other push.
    live_activity: dict[str, Any] | None = None
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Stable per notification (set by dispatch under the at-least-once policy): the collapse
    #: identifier a push carries when it sets no ``collapse_key``, so a device shows a resent push once
    #: (APNs ``apns-collapse-id``, FCM ``android.notification.tag`` and ``apns-collapse-id``, Web Push
    #: ``Topic`` and the notification ``tag``).
    dedupe_key: str = ""
    #: This send repeats one that may have been delivered (its connection was lost): FCM also gets
    #: ``android.collapse_key``, so FCM keeps one of the two while the device is offline.
    resend: bool = False

    @property
    def collapse_id(self) -> str:
        """What the device collapses on: the message's own ``collapse_key``, else ``dedupe_key``."""
        return self.collapse_key or self.dedupe_key

    def __post_init__(self) -> None:
        if self.priority not in PRIORITIES:
            raise ValueError(f"priority must be one of {', '.join(PRIORITIES)}, not {self.priority!r}")
        if self.ttl is not None and self.ttl < 0:
            raise ValueError(f"ttl must be >= 0 seconds, not {self.ttl}")

    @property
    def is_background(self) -> bool:
        return self.push_type == "background" or (not self.title and not self.body and self.content_available)


@dataclass(frozen=True, slots=True)
class Target:
    """One push address.

    APNs and FCM: ``address`` is the device token. Web Push: ``address`` is the endpoint URL and
    ``p256dh``/``auth`` the subscription keys. ``key`` is opaque to backends (dispatch puts the device
    id there) and ``environment`` is the APNs environment of the device ("production" or "sandbox").
    """

    address: str
    p256dh: str = ""
    auth: str = ""
    environment: str = "production"
    key: Any = None
    #: Web Push only: the browser subscribed through ``window.pushManager``, so it can show a
    #: declarative push message without a service worker (Safari 18.4+).
    declarative: bool = False
    #: Webhooks: the endpoint's signing secrets (``whsec_…``), newest first; two during a rotation's
    #: overlap. Filled by dispatch for webhook deliveries only; never printed.
    secrets: tuple[str, ...] = ()

    def __repr__(self) -> str:  # never print whole tokens: they are credentials for the device
        tail = self.address[-6:] if len(self.address) > 6 else ""
        return f"Target(…{tail}, key={self.key!r})"
