"""Users' own webhook endpoints, where a site enables it (``DJANGO_PUSH["WEBHOOKS_USER_API"] = True``).

``GET/POST webhooks/``, ``GET/PATCH/DELETE webhooks/<public_id>/`` and ``POST
webhooks/<public_id>/rotate-secret/``: scoped to the authenticated user's endpoints (another user's
is a 404). The secret is in the answer to the POST that creates an endpoint or rotates its secret,
and nowhere else. A URL that breaks the rules (https; no private, loopback or link-local address) is a
400 with the error under ``url``. With the setting off, every route answers 404.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from django_push.api import webhooks_schema as docs
from django_push.api.common import PushAPIMixin
from django_push.conf import push_settings
from django_push.devices import webhooks
from django_push.models import WebhookEndpoint


class WebhookEndpointSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    url = serializers.CharField(max_length=2048)
    event_types = serializers.ListField(child=serializers.CharField(max_length=100), required=False)
    secret = serializers.CharField(source="masked_secret", read_only=True)

    class Meta:
        model = WebhookEndpoint
        fields = (
            "id",
            "url",
            "description",
            "event_types",
            "active",
            "secret",
            "consecutive_failures",
            "disabled_at",
            "disabled_reason",
            "created_at",
        )
        read_only_fields = ("consecutive_failures", "disabled_at", "disabled_reason", "created_at")

    def validate_url(self, value: str) -> str:
        try:
            return webhooks.validate_webhook_url(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc


def _field_errors(exc: DjangoValidationError) -> dict[str, Any]:
    return exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}


class _WebhookView(PushAPIMixin, APIView):
    pagination_class = None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        if not push_settings.WEBHOOKS_USER_API:
            raise Http404
        super().initial(request, *args, **kwargs)

    def get_permissions(self) -> list[BasePermission]:
        # An endpoint always has an owner: whatever API_PERMISSION_CLASSES admit, a user is needed.
        return [IsAuthenticated(), *super().get_permissions()]

    def owned(self) -> QuerySet[WebhookEndpoint]:
        return WebhookEndpoint.objects.filter(owner_id=self.request.user.pk).order_by("id")

    def endpoint(self, public_id: Any) -> WebhookEndpoint:
        return get_object_or_404(self.owned().select_related("device"), public_id=public_id)


@docs.endpoint_list
class WebhookEndpointListView(_WebhookView):
    def get(self, request: Request) -> Response:
        return Response(WebhookEndpointSerializer(self.owned(), many=True).data)

    def post(self, request: Request) -> Response:
        serializer = WebhookEndpointSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            endpoint, secret = webhooks.create_endpoint(
                url=data["url"],
                owner=request.user,
                description=data.get("description", ""),
                event_types=data.get("event_types", []),
            )
            if data.get("active") is False:
                webhooks.update_endpoint(endpoint, active=False)
        except DjangoValidationError as exc:
            return Response(_field_errors(exc), status=status.HTTP_400_BAD_REQUEST)
        return Response(
            {**WebhookEndpointSerializer(endpoint).data, "secret": secret}, status=status.HTTP_201_CREATED
        )


@docs.endpoint_detail
class WebhookEndpointDetailView(_WebhookView):
    def get(self, request: Request, public_id: Any) -> Response:
        return Response(WebhookEndpointSerializer(self.endpoint(public_id)).data)

    def patch(self, request: Request, public_id: Any) -> Response:
        endpoint = self.endpoint(public_id)
        serializer = WebhookEndpointSerializer(endpoint, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        try:
            webhooks.update_endpoint(endpoint, **serializer.validated_data)
        except DjangoValidationError as exc:
            return Response(_field_errors(exc), status=status.HTTP_400_BAD_REQUEST)
        return Response(WebhookEndpointSerializer(endpoint).data)

    def delete(self, request: Request, public_id: Any) -> Response:
        endpoint = self.endpoint(public_id)
        webhooks.delete_endpoints(WebhookEndpoint.objects.filter(pk=endpoint.pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


@docs.endpoint_rotate
class WebhookEndpointRotateView(_WebhookView):
    def post(self, request: Request, public_id: Any) -> Response:
        endpoint = self.endpoint(public_id)
        secret = webhooks.rotate_secret(endpoint)
        return Response({**WebhookEndpointSerializer(endpoint).data, "secret": secret})
