"""OpenAPI documentation of the device API (drf-spectacular): one decorator per view, with examples.

Kept apart from the views so the views read as code, and so every status an endpoint can answer is
documented in one place: clients (and schemathesis, in our tests) rely on the error shapes too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.settings import api_settings

from django_push.api.serializers import (
    DeviceRegistrationSerializer,
    DeviceSerializer,
    DeviceTopicSerializer,
    DeviceUpdateSerializer,
    TopicSerializer,
    TopicSubscribeSerializer,
    WebPushResubscribeSerializer,
    WebPushSubscriptionSerializer,
    WebPushUnsubscribeSerializer,
)

View = TypeVar("View", bound=type)


def _schema_class() -> type[AutoSchema]:
    """The site's DEFAULT_SCHEMA_CLASS if it is drf-spectacular's (or derives from it), else
    drf-spectacular's own: the API documents itself even where the site never configured a schema."""
    configured = api_settings.DEFAULT_SCHEMA_CLASS
    return configured if isinstance(configured, type) and issubclass(configured, AutoSchema) else AutoSchema


SCHEMA_CLASS = _schema_class()


class Documented:
    """A view decorator (see :func:`document`) whose operations a ViewSet reuses by action name:
    ``device_list.operations["post"]`` documents ``DeviceViewSet.create`` as it does ``POST devices/``."""

    def __init__(self, operations: dict[str, Callable[[Any], Any]]) -> None:
        self.operations = operations

    def __call__(self, view: View) -> View:
        for name, extend in self.operations.items():
            if name not in view.__dict__:
                raise TypeError(f"{view.__name__}.{name} must be defined on the view to be documented")
            method = view.__dict__[name]
            method.schema = SCHEMA_CLASS
            extend(method)
        return view


def document(**operations: Callable[[Any], Any]) -> Documented:
    """Like drf-spectacular's ``extend_schema_view``, but built on :data:`SCHEMA_CLASS`.

    ``extend_schema`` derives each operation's schema from DEFAULT_SCHEMA_CLASS when it decorates, so
    on a site that left DRF's own AutoSchema there, schema generation would fail for these views.
    Naming the base class on the method (the "explicit schema" hook of ``extend_schema``) avoids that.
    The methods must be defined on the view itself, so nothing leaks into DRF's generic classes.
    Operations are keyed by handler name: ``get``/``post``… on a view, the action on a ViewSet.
    """
    return Documented(operations)


TAGS = ["push"]
APNS_TOKEN = "6c1c7a8ed5cd8f5d0e0f3a3ad2a3e84b12c5d6e7f8091a2b3c4d5e6f708192a3"
FCM_TOKEN = "dTTnTmfj5Ek:APA91bGt0Lz3Gk_4-ZTKdSbhUDs0SkVb9RGvxqJzHFb2bOoMuDXQ0AeyQ6yXNjmL3e1XrgWiAs"
ENDPOINT = "https://fcm.googleapis.com/fcm/send/dTTnTmfj5Ek:APA91bGt0Lz3Gk"
P256DH = "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM"
AUTH = "tBHItJI5svbpez7KI4CCXg"
DEVICE_ID = "3f1e9a52-7c1b-4a0e-9d55-2f1f0c8a6b11"

DEVICE = {
    "id": DEVICE_ID,
    "platform": "apns",
    "kind": "device",
    "activity_type": "",
    "activity_id": "",
    "application": "default",
    "masked_token": "6c1c7a…92a3",
    "name": "Alice's iPhone",
    "environment": "production",
    "locale": "fr-CA",
    "time_zone": "America/Toronto",
    "active": True,
    "created_at": "2026-01-05T10:00:00Z",
    "registered_at": "2026-01-05T10:00:00Z",
    "last_seen_at": "2026-01-05T10:00:00Z",
}
WEBPUSH_DEVICE = {
    **DEVICE,
    "platform": "webpush",
    "masked_token": "https:…z3Gk",
    "name": "Firefox on Linux",
    "locale": "en",
    "time_zone": "Europe/London",
}
SUBSCRIPTION = {
    "topic": "news",
    "description": "Breaking news",
    "self_subscribe": True,
    "subscribed_at": "2026-01-05T10:01:00Z",
}

_detail = inline_serializer("PushErrorDetail", {"detail": serializers.CharField()})


def _error(description: str, example: str) -> OpenApiResponse:
    return OpenApiResponse(
        _detail, description, examples=[OpenApiExample(description, {"detail": example}, response_only=True)]
    )


def _validation(example: dict[str, Any]) -> OpenApiResponse:
    return OpenApiResponse(
        OpenApiTypes.OBJECT,
        "Field errors: each field name maps to a list of messages (nested for nested objects).",
        examples=[OpenApiExample("Invalid field", example, response_only=True, status_codes=["400"])],
    )


DENIED = {
    401: _error("Not authenticated", "Authentication credentials were not provided."),
    403: _error("Forbidden", "You do not have permission to perform this action."),
}
NOT_FOUND = {404: _error("Not found", "No Device matches the given query.")}
TOO_LARGE = {413: _error("Request too large", "The request body is larger than 16384 bytes.")}
THROTTLED = {429: _error("Throttled", "Request was throttled. Expected available in 42 seconds.")}
TOKEN_ERROR = _validation(
    {"token": ["An APNs device token is exactly 64 hexadecimal characters; got 12 characters."]}
)

PUBLIC_ID = OpenApiParameter("public_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="Device id.")
TOPIC_NAME = OpenApiParameter(
    "topic", str, OpenApiParameter.PATH, pattern=r"^[-a-zA-Z0-9_]+$", description="Topic name (a slug)."
)

device_list = document(
    get=extend_schema(
        tags=TAGS,
        summary="List my devices",
        description="The caller's devices, oldest first, paginated. Tokens are masked.",
        responses={200: DeviceSerializer(many=True), **DENIED, **NOT_FOUND},
        examples=[OpenApiExample("My devices", DEVICE, response_only=True)],
    ),
    post=extend_schema(
        tags=TAGS,
        summary="Register a device (idempotent)",
        description=(
            "Creates the device (201) or refreshes the one with the same platform, application and "
            "token (200): re-activates it and updates its details. A token registered by another user "
            "moves to the caller and loses its topic subscriptions."
        ),
        request=DeviceRegistrationSerializer,
        responses={
            201: OpenApiResponse(DeviceSerializer, "Registered a new device."),
            200: OpenApiResponse(DeviceSerializer, "Refreshed an existing device."),
            400: TOKEN_ERROR,
            **DENIED,
            **TOO_LARGE,
            **THROTTLED,
        },
        examples=[
            OpenApiExample(
                "APNs",
                {
                    "platform": "apns",
                    "token": APNS_TOKEN,
                    "environment": "production",
                    "name": "Alice's iPhone",
                    "locale": "fr-CA",
                    "time_zone": "America/Toronto",
                },
                request_only=True,
            ),
            OpenApiExample(
                "FCM",
                {"platform": "fcm", "token": "dTTnTmfj5Ek:APA91bGt0Lz3Gk" + "x" * 100},
                request_only=True,
            ),
            OpenApiExample(
                "Web Push",
                {"platform": "webpush", "token": ENDPOINT, "p256dh": P256DH, "auth": AUTH},
                request_only=True,
            ),
            OpenApiExample(
                "Live Activity update token",
                {
                    "platform": "apns",
                    "kind": "liveactivity_update",
                    "token": "80" * 80,
                    "activity_type": "MatchAttributes",
                    "activity_id": "F2A1C3D4-0000-4000-8000-000000000042",
                    "installation": DEVICE_ID,
                },
                request_only=True,
            ),
            OpenApiExample("Registered", DEVICE, response_only=True, status_codes=["201", "200"]),
        ],
    ),
)

device_detail = document(
    get=extend_schema(
        tags=TAGS,
        summary="Show one of my devices",
        parameters=[PUBLIC_ID],
        responses={200: DeviceSerializer, **DENIED, **NOT_FOUND},
        examples=[OpenApiExample("Device", DEVICE, response_only=True)],
    ),
    patch=extend_schema(
        tags=TAGS,
        summary="Update a device's details",
        description="Name, locale, time zone and (APNs only) environment. To change the token, register.",
        parameters=[PUBLIC_ID],
        request=DeviceUpdateSerializer,
        responses={
            200: DeviceSerializer,
            400: _validation(
                {"time_zone": ["'Mars/Olympus' is not an IANA time zone name such as 'Europe/Paris'."]}
            ),
            **DENIED,
            **NOT_FOUND,
            **TOO_LARGE,
        },
        examples=[
            OpenApiExample("Rename", {"name": "Work phone", "time_zone": "Europe/Paris"}, request_only=True),
            OpenApiExample("Updated", {**DEVICE, "name": "Work phone"}, response_only=True),
        ],
    ),
    delete=extend_schema(
        tags=TAGS,
        summary="Delete a device",
        description="The device stops receiving notifications; its topic subscriptions go with it.",
        parameters=[PUBLIC_ID],
        responses={204: OpenApiResponse(description="Deleted."), **DENIED, **NOT_FOUND},
        examples=[OpenApiExample("No content", None, response_only=True, status_codes=["204"])],
    ),
)

device_topics = document(
    get=extend_schema(
        tags=TAGS,
        summary="List a device's topics",
        parameters=[PUBLIC_ID],
        responses={200: DeviceTopicSerializer(many=True), **DENIED, **NOT_FOUND},
        examples=[OpenApiExample("Subscriptions", SUBSCRIPTION, response_only=True)],
    ),
    post=extend_schema(
        tags=TAGS,
        summary="Subscribe a device to a topic (idempotent)",
        description="201 when subscribed now, 200 when it already was. Only topics listed by GET topics/.",
        parameters=[PUBLIC_ID],
        request=TopicSubscribeSerializer,
        responses={
            201: OpenApiResponse(DeviceTopicSerializer, "Subscribed."),
            200: OpenApiResponse(DeviceTopicSerializer, "Already subscribed."),
            400: _validation({"topic": ["Unknown topic 'sports'."]}),
            **DENIED,
            **NOT_FOUND,
            **TOO_LARGE,
            **THROTTLED,
        },
        examples=[
            OpenApiExample("Join", {"topic": "news"}, request_only=True),
            OpenApiExample("Subscribed", SUBSCRIPTION, response_only=True, status_codes=["201", "200"]),
        ],
    ),
)

device_topic_detail = document(
    delete=extend_schema(
        tags=TAGS,
        summary="Unsubscribe a device from a topic",
        description="Idempotent: 204 whether or not the device was subscribed.",
        parameters=[PUBLIC_ID, TOPIC_NAME],
        responses={204: OpenApiResponse(description="Unsubscribed."), **DENIED, **NOT_FOUND},
        examples=[OpenApiExample("No content", None, response_only=True, status_codes=["204"])],
    ),
)

topic_list = document(
    get=extend_schema(
        tags=TAGS,
        summary="List the topics a device may join",
        responses={200: TopicSerializer(many=True), **DENIED, **NOT_FOUND},
        examples=[
            OpenApiExample("Topics", {"name": "news", "description": "Breaking news"}, response_only=True)
        ],
    ),
)

SUBSCRIPTION_JSON = {"endpoint": ENDPOINT, "expirationTime": None, "keys": {"p256dh": P256DH, "auth": AUTH}}

webpush_subscribe = document(
    post=extend_schema(
        tags=TAGS,
        summary="Register a browser's Web Push subscription (idempotent)",
        description=(
            "Send `PushSubscription.toJSON()` as is, optionally with `name`, `application`, `locale` and "
            "`time_zone`. Anonymous callers are accepted only when ALLOW_ANONYMOUS_WEBPUSH is on."
        ),
        request=WebPushSubscriptionSerializer,
        responses={
            201: OpenApiResponse(DeviceSerializer, "Subscribed a new browser."),
            200: OpenApiResponse(DeviceSerializer, "Refreshed an existing subscription."),
            400: _validation({"endpoint": ["The Web Push endpoint must use https."]}),
            **DENIED,
            **TOO_LARGE,
            **THROTTLED,
        },
        examples=[
            OpenApiExample(
                "Subscription", {**SUBSCRIPTION_JSON, "name": "Firefox on Linux"}, request_only=True
            ),
            OpenApiExample("Subscribed", WEBPUSH_DEVICE, response_only=True, status_codes=["201", "200"]),
        ],
    ),
)

webpush_unsubscribe = document(
    post=extend_schema(
        tags=TAGS,
        summary="Remove a browser's Web Push subscription",
        description=(
            "Deletes the caller's device with this endpoint. Without a signed-in owner, `keys.auth` must "
            "match the subscription's auth secret. Idempotent: 204 even when nothing matched."
        ),
        request=WebPushUnsubscribeSerializer,
        responses={
            204: OpenApiResponse(description="No such subscription remains for the caller."),
            400: _validation(
                {"keys": ["Send the subscription's keys.auth to unsubscribe without signing in."]}
            ),
            **DENIED,
            **TOO_LARGE,
            **THROTTLED,
        },
        examples=[
            OpenApiExample("Unsubscribe", {"endpoint": ENDPOINT, "keys": {"auth": AUTH}}, request_only=True),
            OpenApiExample("No content", None, response_only=True, status_codes=["204"]),
        ],
    ),
)

webpush_resubscribe = document(
    post=extend_schema(
        tags=TAGS,
        summary="Replace a rotated Web Push subscription",
        description=(
            "Sent by the service worker on `pushsubscriptionchange`. The old subscription's endpoint and "
            "auth secret authorise the request (no session needed); the device keeps owner and topics."
        ),
        request=WebPushResubscribeSerializer,
        responses={
            200: OpenApiResponse(DeviceSerializer, "The device now uses the new subscription."),
            400: _validation({"subscription": {"endpoint": ["The Web Push endpoint must use https."]}}),
            404: _error("Unknown subscription", "No subscription matches the old endpoint and auth secret."),
            **TOO_LARGE,
            **THROTTLED,
        },
        examples=[
            OpenApiExample(
                "Rotated",
                {
                    "old": {"endpoint": ENDPOINT, "keys": {"auth": AUTH, "p256dh": P256DH}},
                    "subscription": {**SUBSCRIPTION_JSON, "endpoint": ENDPOINT + "-new"},
                },
                request_only=True,
            ),
            OpenApiExample("Moved", WEBPUSH_DEVICE, response_only=True),
        ],
    ),
)

vapid_public_key = document(
    get=extend_schema(
        tags=TAGS,
        summary="The VAPID public key (application server key)",
        description="What browsers pass to `pushManager.subscribe()`. Readable without signing in.",
        responses={
            200: inline_serializer("VapidPublicKey", {"public_key": serializers.CharField()}),
            503: _error(
                "Not configured", "Web Push is not configured: DJANGO_PUSH['VAPID_PUBLIC_KEY'] is empty."
            ),
        },
        examples=[OpenApiExample("Key", {"public_key": P256DH}, response_only=True, status_codes=["200"])],
    ),
)
