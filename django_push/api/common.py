"""What every device-API view shares, whether a plain view (:mod:`django_push.api.views`, mounted by
``include("django_push.api.urls")``) or a ViewSet (:mod:`django_push.api.viewsets`, mounted on a site's
own router): access rules, the parser, the throttle, pagination, owner scoping, and the request
handling itself. Each handler validates with a serializer of :mod:`django_push.api.serializers` (which
calls the registration services) and answers; the views and viewsets only route to them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext
from rest_framework import status
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import PermissionDenied
from rest_framework.pagination import BasePagination, PageNumberPagination
from rest_framework.parsers import BaseParser
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.response import Response
from rest_framework.schemas.inspectors import ViewInspector
from rest_framework.serializers import BaseSerializer
from rest_framework.throttling import BaseThrottle

from django_push.api import schema as docs
from django_push.api.parsers import SizeLimitedJSONParser
from django_push.api.permissions import anonymous_webpush_allowed, api_permissions
from django_push.api.serializers import (
    DeviceRegistrationSerializer,
    DeviceSerializer,
    DeviceTopicSerializer,
    DeviceUpdateSerializer,
    TopicSubscribeSerializer,
    WebPushResubscribeSerializer,
    WebPushSubscriptionSerializer,
    WebPushUnsubscribeSerializer,
)
from django_push.api.throttling import RegistrationThrottle
from django_push.conf import PUSH_PLATFORMS, push_settings
from django_push.models import Device, Subscription, Topic

if TYPE_CHECKING:
    from rest_framework.generics import GenericAPIView

    _Base = GenericAPIView
else:
    _Base = object


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class PushAPIMixin(_Base):
    """Configured permissions and the registration throttle (both read per request), the API's parser,
    pagination and schema class, and the handlers of every device, topic and Web Push request.

    Mixed into a DRF ``APIView`` (or ``GenericViewSet``). Three hooks say how the current request is
    treated; plain views set the attributes, viewsets answer per action:

    * :meth:`is_public` (``public``): no authentication, anyone may call (resubscribe, the VAPID key);
    * :meth:`allows_anonymous_webpush` (``allow_anonymous_webpush``): ``ALLOW_ANONYMOUS_WEBPUSH`` opens it;
    * ``throttled_methods``: the HTTP methods the registration throttle counts.
    """

    # drf-spectacular documents these views even where DEFAULT_SCHEMA_CLASS is DRF's (see docs.document).
    schema: ViewInspector | None = docs.SCHEMA_CLASS()
    parser_classes: Sequence[type[BaseParser]] = [SizeLimitedJSONParser]
    pagination_class: type[BasePagination] | None = Pagination
    throttled_methods: frozenset[str] = frozenset()
    allow_anonymous_webpush = False
    public = False

    # -- access ---------------------------------------------------------------------------------------

    def is_public(self) -> bool:
        return self.public

    def allows_anonymous_webpush(self) -> bool:
        return self.allow_anonymous_webpush

    def get_authenticators(self) -> list[BaseAuthentication]:
        # A public endpoint authenticates nobody, so session authentication cannot demand a CSRF token
        # from the service worker (which has none).
        if self.is_public():
            return []
        return list(super().get_authenticators())

    def get_permissions(self) -> list[BasePermission]:
        if self.is_public() or (self.allows_anonymous_webpush() and anonymous_webpush_allowed(self.request)):
            return [AllowAny()]
        return api_permissions()

    def get_throttles(self) -> list[BaseThrottle]:
        throttles: list[BaseThrottle] = list(super().get_throttles())
        if self.request.method in self.throttled_methods:
            throttles.append(RegistrationThrottle())
        return throttles

    def user_agent(self) -> str:
        return self.request.META.get("HTTP_USER_AGENT", "")

    def owned_devices(self) -> QuerySet[Device]:
        """The caller's push devices: another user's are indistinguishable from missing ones (404).
        E-mail and SMS addresses are Device rows too, but they are synced from the user
        (docs/channels.md), not registered or removed by an app, so the device API never shows them."""
        return Device.objects.for_user(self.request.user).filter(platform__in=PUSH_PLATFORMS)

    def paginated(self, queryset: QuerySet[Any], serializer_class: type[BaseSerializer]) -> Response:
        page = self.paginate_queryset(queryset)
        if page is not None:
            return self.get_paginated_response(serializer_class(page, many=True).data)
        return Response(serializer_class(queryset, many=True).data)

    # -- devices --------------------------------------------------------------------------------------

    def register_device(self) -> Response:
        serializer = DeviceRegistrationSerializer(data=self.request.data, context={"request": self.request})
        serializer.is_valid(raise_exception=True)
        return registered(*serializer.register(self.request.user, self.user_agent()))

    def update_device(self, device: Device) -> Response:
        serializer = DeviceUpdateSerializer(device, data=self.request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        if serializer.validated_data:  # nothing to change: not even updated_at
            serializer.save()
        return Response(DeviceSerializer(device).data)

    # -- a device's topics ----------------------------------------------------------------------------

    def list_device_topics(self, device: Device) -> Response:
        return self.paginated(
            device.subscriptions.select_related("topic").order_by("topic__name"), DeviceTopicSerializer
        )

    def subscribe_device_to_topic(self, device: Device) -> Response:
        serializer = TopicSubscribeSerializer(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        topic = serializer.validated_data["topic"]
        require_self_subscribe(topic)
        subscription, created = Subscription.objects.get_or_create(device=device, topic=topic)
        return Response(
            DeviceTopicSerializer(subscription).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    def unsubscribe_device_from_topic(self, device: Device, name: str) -> Response:
        topic = get_object_or_404(Topic, name=name)
        require_self_subscribe(topic)
        Subscription.objects.filter(device=device, topic=topic).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)

    def self_subscribable_topics(self) -> QuerySet[Topic]:
        return Topic.objects.filter(self_subscribe=True).order_by("name")

    # -- Web Push -------------------------------------------------------------------------------------

    def subscribe_webpush(self) -> Response:
        serializer = WebPushSubscriptionSerializer(data=self.request.data, context={"request": self.request})
        serializer.is_valid(raise_exception=True)
        return registered(*serializer.register(self.request.user, self.user_agent()))

    def unsubscribe_webpush(self) -> Response:
        serializer = WebPushUnsubscribeSerializer(data=self.request.data, context={"request": self.request})
        serializer.is_valid(raise_exception=True)
        serializer.unsubscribe(self.request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def resubscribe_webpush(self) -> Response:
        serializer = WebPushResubscribeSerializer(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        device = serializer.resubscribe()
        if device is None:
            return Response(
                {"detail": gettext("No subscription matches the old endpoint and auth secret.")},
                status=status.HTTP_404_NOT_FOUND,
            )
        return Response(DeviceSerializer(device).data)

    def vapid_key(self) -> Response:
        key = push_settings.VAPID_PUBLIC_KEY
        if not key:
            return Response(
                {"detail": gettext("Web Push is not configured: DJANGO_PUSH['VAPID_PUBLIC_KEY'] is empty.")},
                status=status.HTTP_503_SERVICE_UNAVAILABLE,
            )
        return Response({"public_key": key})


def registered(device: Device, created: bool) -> Response:
    return Response(
        DeviceSerializer(device).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
    )


def require_self_subscribe(topic: Topic) -> None:
    if not topic.self_subscribe:
        raise PermissionDenied(
            gettext("Topic %(topic)s is managed by the site; a device cannot join or leave it.")
            % {"topic": repr(topic.name)}
        )
