"""The device API's views: thin HTTP wrappers around the serializers' registration logic.

Every queryset is scoped to the caller (``Device.objects.for_user``), so another user's device is
indistinguishable from one that does not exist: 404 for read, update, delete and topic changes alike.
Devices are addressed by their opaque ``public_id``; tokens never appear in URLs or access logs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext
from rest_framework import generics, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.pagination import BasePagination, PageNumberPagination
from rest_framework.parsers import BaseParser
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.schemas.inspectors import ViewInspector
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from django_push.api import schema as docs
from django_push.api.parsers import MAX_BODY_BYTES, RequestTooLarge, SizeLimitedJSONParser  # noqa: F401 (moved there)
from django_push.api.permissions import anonymous_webpush_allowed, api_permissions
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
from django_push.api.throttling import RegistrationThrottle
from django_push.conf import push_settings
from django_push.models import Device, Subscription, Topic


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class PushAPIView(APIView):
    """Configured permissions and the registration throttle, both read per request."""

    # drf-spectacular documents these views even where DEFAULT_SCHEMA_CLASS is DRF's (see docs.document).
    schema: ViewInspector | None = docs.SCHEMA_CLASS()
    parser_classes: Sequence[type[BaseParser]] = [SizeLimitedJSONParser]
    pagination_class: type[BasePagination] | None = Pagination
    throttled_methods: frozenset[str] = frozenset()
    allow_anonymous_webpush = False

    def get_permissions(self) -> list[BasePermission]:
        if self.allow_anonymous_webpush and anonymous_webpush_allowed(self.request):
            return [AllowAny()]
        return api_permissions()

    def get_throttles(self) -> list[BaseThrottle]:
        throttles: list[BaseThrottle] = list(super().get_throttles())
        if self.request.method in self.throttled_methods:
            throttles.append(RegistrationThrottle())
        return throttles

    def user_agent(self) -> str:
        return self.request.META.get("HTTP_USER_AGENT", "")


def _registered(device: Device, created: bool) -> Response:
    return Response(
        DeviceSerializer(device).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
    )


@docs.device_list
class DeviceListView(PushAPIView, generics.ListAPIView):
    serializer_class = DeviceSerializer
    throttled_methods = frozenset({"POST"})

    def get_queryset(self) -> QuerySet[Device]:
        return Device.objects.for_user(self.request.user).order_by("id")

    def get(self, request: Request) -> Response:
        return self.list(request)

    def post(self, request: Request) -> Response:
        serializer = DeviceRegistrationSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        return _registered(*serializer.register(request.user, self.user_agent()))


@docs.device_detail
class DeviceDetailView(PushAPIView, generics.RetrieveDestroyAPIView):
    serializer_class = DeviceSerializer
    lookup_field = "public_id"
    http_method_names = ["get", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[Device]:
        return Device.objects.for_user(self.request.user)

    def get(self, request: Request, public_id: UUID) -> Response:
        return self.retrieve(request, public_id=public_id)

    def delete(self, request: Request, public_id: UUID) -> Response:
        return self.destroy(request, public_id=public_id)

    def patch(self, request: Request, public_id: UUID) -> Response:
        device = self.get_object()
        serializer = DeviceUpdateSerializer(device, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        if serializer.validated_data:  # nothing to change: not even updated_at
            serializer.save()
        return Response(DeviceSerializer(device).data)


class _DeviceTopicsView(PushAPIView):
    def device(self) -> Device:
        return get_object_or_404(
            Device.objects.for_user(self.request.user), public_id=self.kwargs["public_id"]
        )

    def _require_self_subscribe(self, topic: Topic) -> None:
        if not topic.self_subscribe:
            raise PermissionDenied(
                gettext("Topic %(topic)s is managed by the site; a device cannot join or leave it.")
                % {"topic": repr(topic.name)}
            )


@docs.device_topics
class DeviceTopicListView(_DeviceTopicsView, generics.ListAPIView):
    serializer_class = DeviceTopicSerializer
    throttled_methods = frozenset({"POST"})

    def get_queryset(self) -> QuerySet[Subscription]:
        return self.device().subscriptions.select_related("topic").order_by("topic__name")

    def get(self, request: Request, public_id: UUID) -> Response:
        return self.list(request)

    def post(self, request: Request, public_id: UUID) -> Response:
        device = self.device()
        serializer = TopicSubscribeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        topic = serializer.validated_data["topic"]
        self._require_self_subscribe(topic)
        subscription, created = Subscription.objects.get_or_create(device=device, topic=topic)
        return Response(
            DeviceTopicSerializer(subscription).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


@docs.device_topic_detail
class DeviceTopicDetailView(_DeviceTopicsView):
    def delete(self, request: Request, public_id: str, topic: str) -> Response:
        device = self.device()
        found = get_object_or_404(Topic, name=topic)
        self._require_self_subscribe(found)
        Subscription.objects.filter(device=device, topic=found).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


@docs.topic_list
class TopicListView(PushAPIView, generics.ListAPIView):
    serializer_class = TopicSerializer

    def get_queryset(self) -> QuerySet[Topic]:
        return Topic.objects.filter(self_subscribe=True).order_by("name")

    def get(self, request: Request) -> Response:
        return self.list(request)


@docs.webpush_subscribe
class WebPushSubscribeView(PushAPIView):
    throttled_methods = frozenset({"POST"})
    allow_anonymous_webpush = True

    def post(self, request: Request) -> Response:
        serializer = WebPushSubscriptionSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        return _registered(*serializer.register(request.user, self.user_agent()))


@docs.webpush_unsubscribe
class WebPushUnsubscribeView(PushAPIView):
    throttled_methods = frozenset({"POST"})
    allow_anonymous_webpush = True

    def post(self, request: Request) -> Response:
        serializer = WebPushUnsubscribeSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        serializer.unsubscribe(request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@docs.webpush_resubscribe
class WebPushResubscribeView(PushAPIView):
    """Called by the service worker, which has no session or CSRF token: the old subscription's auth
    secret is the credential, so this view needs no authentication at all."""

    authentication_classes: list[Any] = []
    throttled_methods = frozenset({"POST"})

    def get_permissions(self) -> list[BasePermission]:
        return [AllowAny()]

    def post(self, request: Request) -> Response:
        serializer = WebPushResubscribeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        device = serializer.resubscribe()
        if device is None:
            return Response(
                {"detail": gettext("No subscription matches the old endpoint and auth secret.")},
                status=status.HTTP_404_NOT_FOUND,
            )
        return Response(DeviceSerializer(device).data)


@docs.vapid_public_key
class VapidPublicKeyView(APIView):
    """The application server key browsers need to subscribe; public by nature, so readable by anyone."""

    schema = docs.SCHEMA_CLASS()
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    parser_classes: Sequence[type[BaseParser]] = [SizeLimitedJSONParser]

    def get(self, request: Request) -> Response:
        key = push_settings.VAPID_PUBLIC_KEY
        if not key:
            return Response(
                {"detail": gettext("Web Push is not configured: DJANGO_PUSH['VAPID_PUBLIC_KEY'] is empty.")},
                status=status.HTTP_503_SERVICE_UNAVAILABLE,
            )
        return Response({"public_key": key})
