"""The device API's views: thin HTTP wrappers around the serializers' registration logic.

Every queryset is scoped to the caller (``Device.objects.for_user``), so another user's device is
indistinguishable from one that does not exist: 404 for read, update, delete and topic changes alike.
Devices are addressed by their opaque ``public_id``; tokens never appear in URLs or access logs.

The handling itself lives in :class:`django_push.api.common.PushAPIMixin`, shared with the ViewSets of
:mod:`django_push.api.viewsets` (for sites that mount the API on their own router).
"""

from __future__ import annotations

from uuid import UUID

from django.db.models import QuerySet
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from django_push.api import schema as docs
from django_push.api.common import Pagination, PushAPIMixin  # noqa: F401 (Pagination: moved there)
from django_push.api.parsers import MAX_BODY_BYTES, RequestTooLarge, SizeLimitedJSONParser  # noqa: F401 (moved there)
from django_push.api.serializers import DeviceSerializer, DeviceTopicSerializer, TopicSerializer
from django_push.models import Device, Subscription, Topic


class PushAPIView(PushAPIMixin, APIView):
    """Configured permissions and the registration throttle, both read per request."""


@docs.device_list
class DeviceListView(PushAPIView, generics.ListAPIView):
    serializer_class = DeviceSerializer
    throttled_methods = frozenset({"POST"})

    def get_queryset(self) -> QuerySet[Device]:
        return self.owned_devices().order_by("id")

    def get(self, request: Request) -> Response:
        return self.list(request)

    def post(self, request: Request) -> Response:
        return self.register_device()


@docs.device_detail
class DeviceDetailView(PushAPIView, generics.RetrieveDestroyAPIView):
    serializer_class = DeviceSerializer
    lookup_field = "public_id"
    http_method_names = ["get", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[Device]:
        return self.owned_devices()

    def get(self, request: Request, public_id: UUID) -> Response:
        return self.retrieve(request, public_id=public_id)

    def delete(self, request: Request, public_id: UUID) -> Response:
        return self.destroy(request, public_id=public_id)

    def patch(self, request: Request, public_id: UUID) -> Response:
        return self.update_device(self.get_object())


class _DeviceTopicsView(PushAPIView):
    def device(self) -> Device:
        return generics.get_object_or_404(self.owned_devices(), public_id=self.kwargs["public_id"])


@docs.device_topics
class DeviceTopicListView(_DeviceTopicsView, generics.ListAPIView):
    serializer_class = DeviceTopicSerializer
    throttled_methods = frozenset({"POST"})

    def get_queryset(self) -> QuerySet[Subscription]:
        return self.device().subscriptions.select_related("topic").order_by("topic__name")

    def get(self, request: Request, public_id: UUID) -> Response:
        return self.list(request)

    def post(self, request: Request, public_id: UUID) -> Response:
        return self.subscribe_device_to_topic(self.device())


@docs.device_topic_detail
class DeviceTopicDetailView(_DeviceTopicsView):
    def delete(self, request: Request, public_id: str, topic: str) -> Response:
        return self.unsubscribe_device_from_topic(self.device(), topic)


@docs.topic_list
class TopicListView(PushAPIView, generics.ListAPIView):
    serializer_class = TopicSerializer

    def get_queryset(self) -> QuerySet[Topic]:
        return self.self_subscribable_topics()

    def get(self, request: Request) -> Response:
        return self.list(request)


@docs.webpush_subscribe
class WebPushSubscribeView(PushAPIView):
    throttled_methods = frozenset({"POST"})
    allow_anonymous_webpush = True

    def post(self, request: Request) -> Response:
        return self.subscribe_webpush()


@docs.webpush_unsubscribe
class WebPushUnsubscribeView(PushAPIView):
    throttled_methods = frozenset({"POST"})
    allow_anonymous_webpush = True

    def post(self, request: Request) -> Response:
        return self.unsubscribe_webpush()


@docs.webpush_resubscribe
class WebPushResubscribeView(PushAPIView):
    """Called by the service worker, which has no session or CSRF token: the old subscription's auth
    secret is the credential, so this view needs no authentication at all."""

    public = True
    throttled_methods = frozenset({"POST"})

    def post(self, request: Request) -> Response:
        return self.resubscribe_webpush()


@docs.vapid_public_key
class VapidPublicKeyView(PushAPIView):
    """The application server key browsers need to subscribe; public by nature, so readable by anyone."""

    public = True

    def get(self, request: Request) -> Response:
        return self.vapid_key()
