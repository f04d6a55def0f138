"""Test-only urlconf: the device API's ViewSets on a site's own DefaultRouter (docs/api.md,
"Mounting on your own router")."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from django_push.api.viewsets import DeviceViewSet, TopicViewSet, WebPushViewSet

router = DefaultRouter()
router.register("devices", DeviceViewSet, basename="push-device")
router.register("topics", TopicViewSet, basename="push-topic")
router.register("webpush", WebPushViewSet, basename="push-webpush")

urlpatterns = [
    path("api/", include(router.urls)),
]
