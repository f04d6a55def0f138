"""The device API as ViewSets, for sites that mount it on their own DRF router (as they did with
django-push-notifications' and fcm-django's ``*DeviceAuthorizedViewSet``)::

    router.register("devices", DeviceViewSet, basename="push-device")
    router.register("topics", TopicViewSet, basename="push-topic")
    router.register("webpush", WebPushViewSet, basename="push-webpush")

They answer exactly as the views of ``include("django_push.api.urls")`` do: the same serializers,
permissions (``API_PERMISSION_CLASSES``, ``ALLOW_ANONYMOUS_WEBPUSH`` for subscribe and unsubscribe
only), registration throttle, parser and owner scoping, all from
:class:`~django_push.api.common.PushAPIMixin`.
Devices are looked up by their opaque ``public_id``, never by token.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from django_push.api import schema as docs
from django_push.api.common import PushAPIMixin
from django_push.api.serializers import DeviceSerializer, DeviceTopicSerializer, TopicSerializer
from django_push.models import Device, Topic

__all__ = ["DeviceViewSet", "PushViewSet", "TopicViewSet", "WebPushViewSet"]

# What the views' <uuid:public_id> converter accepts: anything else is a 404, never a lookup.
UUID_PATTERN = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


class PushViewSet(PushAPIMixin, viewsets.GenericViewSet):
    """The API's access rules, per action: ``public_actions`` authenticate nobody and admit anyone;
    ``anonymous_webpush_actions`` admit anonymous callers when ``ALLOW_ANONYMOUS_WEBPUSH`` is on."""

    public_actions: frozenset[str] = frozenset()
    anonymous_webpush_actions: frozenset[str] = frozenset()

    def _routed_to(self, actions: frozenset[str]) -> bool:
        # Read from the route's action map, since DRF builds the authenticators before it sets
        # ``self.action``. OPTIONS (no action of its own) is treated as every action of the route.
        action_map: dict[str, str] = getattr(self, "action_map", None) or {}
        request = getattr(self, "request", None)  # None while a schema generator builds the view
        method = (request.method or "").lower() if request is not None else ""
        if method in action_map:
            return action_map[method] in actions
        return bool(action_map) and all(name in actions for name in action_map.values())

    def is_public(self) -> bool:
        return self._routed_to(self.public_actions)

    def allows_anonymous_webpush(self) -> bool:
        return self._routed_to(self.anonymous_webpush_actions)


@docs.document(
    list=docs.device_list.operations["get"],
    create=docs.device_list.operations["post"],
    retrieve=docs.device_detail.operations["get"],
    partial_update=docs.device_detail.operations["patch"],
    destroy=docs.device_detail.operations["delete"],
    topics=docs.device_topics.operations["get"],
    join_topic=docs.device_topics.operations["post"],
    leave_topic=docs.device_topic_detail.operations["delete"],
)
class DeviceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, PushViewSet):
    """``devices/``: list, register (201 created / 200 refreshed), retrieve, PATCH, delete; and
    ``devices/{id}/topics/`` (list, join) and ``devices/{id}/topics/{topic}/`` (leave). No PUT."""

    serializer_class = DeviceSerializer
    lookup_field = "public_id"
    lookup_value_regex = UUID_PATTERN
    throttled_methods = frozenset({"POST"})

    def get_queryset(self) -> QuerySet[Device]:
        return self.owned_devices().order_by("id")

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.register_device()

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().retrieve(request, *args, **kwargs)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.update_device(self.get_object())

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().destroy(request, *args, **kwargs)

    @action(detail=True, methods=["get"], serializer_class=DeviceTopicSerializer)
    def topics(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.list_device_topics(self.get_object())

    @topics.mapping.post
    def join_topic(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.subscribe_device_to_topic(self.get_object())

    @action(
        detail=True,
        methods=["delete"],
        url_path=r"topics/(?P<topic>[-a-zA-Z0-9_]+)",
        url_name="topic-detail",
    )
    def leave_topic(self, request: Request, topic: str, **kwargs: Any) -> Response:
        return self.unsubscribe_device_from_topic(self.get_object(), topic)


@docs.document(list=docs.topic_list.operations["get"])
class TopicViewSet(mixins.ListModelMixin, PushViewSet):
    """``topics/``: the topics a device may join (read-only)."""

    serializer_class = TopicSerializer

    def get_queryset(self) -> QuerySet[Topic]:
        return self.self_subscribable_topics()

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)


@docs.document(
    subscribe=docs.webpush_subscribe.operations["post"],
    unsubscribe=docs.webpush_unsubscribe.operations["post"],
    resubscribe=docs.webpush_resubscribe.operations["post"],
    vapid_public_key=docs.vapid_public_key.operations["get"],
)
class WebPushViewSet(PushViewSet):
    """``webpush/subscribe/``, ``unsubscribe/``, ``resubscribe/`` (the service worker's; the old auth
    secret is its credential, so no authentication) and ``vapid-public-key/`` (public)."""

    throttled_methods = frozenset({"POST"})
    anonymous_webpush_actions = frozenset({"subscribe", "unsubscribe"})
    public_actions = frozenset({"resubscribe", "vapid_public_key"})
    pagination_class = None

    @action(detail=False, methods=["post"])
    def subscribe(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.subscribe_webpush()

    @action(detail=False, methods=["post"])
    def unsubscribe(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.unsubscribe_webpush()

    @action(detail=False, methods=["post"])
    def resubscribe(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.resubscribe_webpush()

    @action(detail=False, methods=["get"], url_path="vapid-public-key", url_name="vapid-public-key")
    def vapid_public_key(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.vapid_key()
