"""The in-app inbox API: list (unread first, paginated), count unread, mark read (one, many, all).

Owner-scoped: every query starts from the caller's own items, so another user's item is a 404, like
one that does not exist. Items are addressed by their opaque ``public_id``. Titles and bodies come in
the request's language (``LocaleMiddleware``) when the notification was rendered in it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone, translation
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import BaseParser
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.schemas.inspectors import ViewInspector

from django_push.api import schema as docs
from django_push.api.parsers import SizeLimitedJSONParser
from django_push.api.permissions import api_permissions
from django_push.models.inbox import InboxItem

UUID_PATTERN = "[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
MAX_IDS = 200  # 200 UUIDs stay well under the parser's 16 KiB


class OwnerScopedMixin:
    """Signed-in callers only, plus the site's ``API_PERMISSION_CLASSES``; small JSON bodies (413
    beyond 16 KiB, like the device API); documented by drf-spectacular whatever the site's
    DEFAULT_SCHEMA_CLASS."""

    schema: ViewInspector | None = docs.SCHEMA_CLASS()
    parser_classes: Sequence[type[BaseParser]] = [SizeLimitedJSONParser]

    def get_permissions(self) -> list[BasePermission]:
        return [IsAuthenticated(), *api_permissions()]


def caller(request: Request) -> Any:
    """The signed-in user (the permissions above ensure there is one)."""
    return request.user


class InboxPagination(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


class InboxItemSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    type = serializers.CharField(source="notification_type", read_only=True)
    title = serializers.SerializerMethodField()
    body = serializers.SerializerMethodField()
    read = serializers.BooleanField(source="is_read", read_only=True)

    class Meta:
        model = InboxItem
        fields = ["id", "type", "title", "body", "data", "created_at", "read_at", "read"]
        read_only_fields = fields

    def get_title(self, item: InboxItem) -> str:
        return item.text(translation.get_language() or "")[0]

    def get_body(self, item: InboxItem) -> str:
        return item.text(translation.get_language() or "")[1]


class MarkReadSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.UUIDField(), allow_empty=False, max_length=MAX_IDS, help_text="Item ids."
    )


class MarkedSerializer(serializers.Serializer):
    marked = serializers.IntegerField(help_text="Items that were unread and are read now.")
    unread = serializers.IntegerField(help_text="Items still unread.")


class UnreadCountSerializer(serializers.Serializer):
    unread = serializers.IntegerField()


ITEM = {
    "id": "6f1c3a52-7c1b-4a0e-9d55-2f1f0c8a6b11",
    "type": "comment",
    "title": "New comment on “Hello”",
    "body": "bob: Nice post!",
    "data": {"post": 12, "comment": 345},
    "created_at": "2026-01-05T10:00:00Z",
    "read_at": None,
    "read": False,
}
ITEM_ID = OpenApiParameter("public_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="Item id.")
NOT_FOUND = {
    404: OpenApiResponse(
        inline_serializer("InboxNotFound", {"detail": serializers.CharField()}),
        "Not found (or another user's).",
        examples=[OpenApiExample("Not found", {"detail": "No InboxItem matches the given query."})],
    )
}
INVALID_PAGE = {
    404: OpenApiResponse(
        inline_serializer("InboxInvalidPage", {"detail": serializers.CharField()}),
        "No such page.",
        examples=[OpenApiExample("Invalid page", {"detail": "Invalid page."})],
    )
}
MARKED = OpenApiExample("Marked", {"marked": 2, "unread": 3}, response_only=True)


@docs.document(
    list=extend_schema(
        tags=["inbox"],
        summary="List my inbox",
        description="Unread items first, each group newest first; paginated. `?unread=true`: unread only.",
        parameters=[OpenApiParameter("unread", OpenApiTypes.BOOL, description="Only unread items.")],
        responses={200: InboxItemSerializer(many=True), **docs.DENIED, **INVALID_PAGE},
        examples=[OpenApiExample("Inbox", ITEM, response_only=True)],
    ),
    retrieve=extend_schema(
        tags=["inbox"],
        summary="Show one inbox item",
        parameters=[ITEM_ID],
        responses={200: InboxItemSerializer, **docs.DENIED, **NOT_FOUND},
        examples=[OpenApiExample("Item", ITEM, response_only=True)],
    ),
    destroy=extend_schema(
        tags=["inbox"],
        summary="Delete an inbox item",
        parameters=[ITEM_ID],
        responses={204: OpenApiResponse(description="Deleted."), **docs.DENIED, **NOT_FOUND},
    ),
    unread_count=extend_schema(
        tags=["inbox"],
        summary="Count my unread items",
        responses={200: UnreadCountSerializer, **docs.DENIED},
        examples=[OpenApiExample("Count", {"unread": 3}, response_only=True)],
    ),
    read=extend_schema(
        tags=["inbox"],
        summary="Mark one item read",
        operation_id="inbox_read_one",
        parameters=[ITEM_ID],
        request=None,
        responses={200: InboxItemSerializer, **docs.DENIED, **NOT_FOUND},
        examples=[OpenApiExample("Read", {**ITEM, "read": True, "read_at": "2026-01-05T10:05:00Z"})],
    ),
    read_many=extend_schema(
        tags=["inbox"],
        summary="Mark several items read",
        operation_id="inbox_read_many",
        description="Ids that are not the caller's (or do not exist) are ignored.",
        request=MarkReadSerializer,
        responses={
            200: MarkedSerializer,
            400: OpenApiResponse(
                OpenApiTypes.OBJECT,
                "Field errors.",
                examples=[OpenApiExample("Invalid", {"ids": ["This list may not be empty."]})],
            ),
            **docs.DENIED,
            **docs.TOO_LARGE,
        },
        examples=[
            OpenApiExample("Ids", {"ids": [ITEM["id"]]}, request_only=True),
            MARKED,
        ],
    ),
    read_all=extend_schema(
        tags=["inbox"],
        summary="Mark every item read",
        operation_id="inbox_read_all",
        request=None,
        responses={200: MarkedSerializer, **docs.DENIED},
        examples=[OpenApiExample("Marked", {"marked": 5, "unread": 0}, response_only=True)],
    ),
)
class InboxViewSet(
    OwnerScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = InboxItemSerializer
    pagination_class = InboxPagination
    lookup_field = "public_id"
    lookup_value_regex = UUID_PATTERN

    def get_queryset(self) -> QuerySet[InboxItem]:
        items = InboxItem.objects.for_user(self.request.user)
        if self.action == "list":
            if self.request.query_params.get("unread", "").lower() in ("1", "true", "yes"):
                items = items.unread()
            return items.unread_first()
        return items

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().retrieve(request, *args, **kwargs)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().destroy(request, *args, **kwargs)

    @action(detail=False, methods=["get"], url_path="unread-count")
    def unread_count(self, request: Request) -> Response:
        return Response({"unread": self._mine().unread().count()})

    @action(detail=True, methods=["post"])
    def read(self, request: Request, public_id: str) -> Response:
        item = self.get_object()
        if item.read_at is None:
            item.read_at = timezone.now()
            item.save(update_fields=["read_at"])
        return Response(self.get_serializer(item).data)

    @action(detail=False, methods=["post"], url_path="read", url_name="read-many")
    def read_many(self, request: Request) -> Response:
        serializer = MarkReadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        marked = self._mine().filter(public_id__in=serializer.validated_data["ids"]).mark_read()
        return self._marked(marked)

    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request: Request) -> Response:
        return self._marked(self._mine().mark_read())

    def _mine(self) -> Any:
        return InboxItem.objects.for_user(self.request.user)

    def _marked(self, marked: int) -> Response:
        return Response(
            {"marked": marked, "unread": self._mine().unread().count()}, status=status.HTTP_200_OK
        )
