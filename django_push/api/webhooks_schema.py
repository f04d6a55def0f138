"""OpenAPI documentation of the webhook endpoint API (:mod:`django_push.api.webhooks`), in the style
of :mod:`django_push.api.schema`: every status each operation answers, with examples."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema

from django_push.api.schema import DENIED, TAGS, TOO_LARGE, _error, _validation, document

ENDPOINT_ID = "0b7e6d1c-5a4f-4e2b-9c3d-1a2b3c4d5e6f"
ENDPOINT = {
    "id": ENDPOINT_ID,
    "url": "https://erp.example.com/hooks",
    "description": "ERP",
    "event_types": ["invoice.paid"],
    "active": True,
    "secret": "whsec_…Zm9v",
    "consecutive_failures": 0,
    "disabled_at": None,
    "disabled_reason": "",
    "created_at": "2026-01-05T10:00:00Z",
}
WITH_SECRET = {**ENDPOINT, "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYo="}
NOT_FOUND = {
    404: _error("Not found (or WEBHOOKS_USER_API is off)", "No WebhookEndpoint matches the given query.")
}
URL_ERROR = _validation({"url": ["The webhook URL host '10.0.0.5' resolves to a private, … address."]})
PUBLIC_ID = OpenApiParameter(
    "public_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="Webhook endpoint id."
)
SECRET_NOTE = "The answer carries the whole signing secret: the only time it is shown."

endpoint_list = document(
    get=extend_schema(
        operation_id="webhooks_list",
        tags=TAGS,
        summary="List my webhook endpoints",
        description="The caller's endpoints, oldest first. Secrets are masked.",
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT), **DENIED, **NOT_FOUND},
        examples=[OpenApiExample("My endpoints", [ENDPOINT], response_only=True)],
    ),
    post=extend_schema(
        operation_id="webhooks_create",
        tags=TAGS,
        summary="Register a webhook endpoint",
        description=(
            "https only; the host must resolve to public addresses. Event types: notification types "
            "to receive (empty: all). " + SECRET_NOTE
        ),
        request=OpenApiTypes.OBJECT,
        responses={
            201: OpenApiResponse(OpenApiTypes.OBJECT),
            400: URL_ERROR,
            **DENIED,
            **NOT_FOUND,
            **TOO_LARGE,
        },
        examples=[
            OpenApiExample(
                "Register",
                {
                    "url": "https://erp.example.com/hooks",
                    "description": "ERP",
                    "event_types": ["invoice.paid"],
                },
                request_only=True,
            ),
            OpenApiExample("Registered", WITH_SECRET, response_only=True, status_codes=["201"]),
        ],
    ),
)

endpoint_detail = document(
    get=extend_schema(
        operation_id="webhooks_retrieve",
        tags=TAGS,
        summary="Show one of my webhook endpoints",
        parameters=[PUBLIC_ID],
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT), **DENIED, **NOT_FOUND},
        examples=[OpenApiExample("Endpoint", ENDPOINT, response_only=True)],
    ),
    patch=extend_schema(
        operation_id="webhooks_partial_update",
        tags=TAGS,
        summary="Change a webhook endpoint",
        description="url, description, event_types, active. A new URL is checked like at registration.",
        parameters=[PUBLIC_ID],
        request=OpenApiTypes.OBJECT,
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT),
            400: URL_ERROR,
            **DENIED,
            **NOT_FOUND,
            **TOO_LARGE,
        },
        examples=[
            OpenApiExample("Switch off", {"active": False}, request_only=True),
            OpenApiExample("Changed", {**ENDPOINT, "active": False}, response_only=True),
        ],
    ),
    delete=extend_schema(
        operation_id="webhooks_destroy",
        tags=TAGS,
        summary="Delete a webhook endpoint",
        parameters=[PUBLIC_ID],
        responses={204: OpenApiResponse(description="Deleted."), **DENIED, **NOT_FOUND},
        examples=[OpenApiExample("No content", None, response_only=True, status_codes=["204"])],
    ),
)

endpoint_rotate = document(
    post=extend_schema(
        operation_id="webhooks_rotate_secret",
        tags=TAGS,
        summary="Rotate a webhook endpoint's signing secret",
        description=(
            "A new secret; the previous one keeps signing next to it for WEBHOOK_SECRET_OVERLAP_SECONDS. "
            + SECRET_NOTE
        ),
        parameters=[PUBLIC_ID],
        request=None,
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT), **DENIED, **NOT_FOUND},
        examples=[OpenApiExample("Rotated", WITH_SECRET, response_only=True)],
    ),
)
