"""``path("api/push/", include("django_push.api.urls"))``: the device registration API.

URL names live in the ``django_push`` namespace; the template tags reverse the ``webpush-*`` ones, so
the browser helper follows wherever a site mounts the API.
"""

from django.urls import include, path

from django_push.api import views, webhooks
from django_push.api.engagement import EngagementView

app_name = "django_push"

urlpatterns = [
    path("devices/", views.DeviceListView.as_view(), name="device-list"),
    path("devices/<uuid:public_id>/", views.DeviceDetailView.as_view(), name="device-detail"),
    path("devices/<uuid:public_id>/topics/", views.DeviceTopicListView.as_view(), name="device-topic-list"),
    path(
        "devices/<uuid:public_id>/topics/<slug:topic>/",
        views.DeviceTopicDetailView.as_view(),
        name="device-topic-detail",
    ),
    path("topics/", views.TopicListView.as_view(), name="topic-list"),
    path("webpush/subscribe/", views.WebPushSubscribeView.as_view(), name="webpush-subscribe"),
    path("webpush/unsubscribe/", views.WebPushUnsubscribeView.as_view(), name="webpush-unsubscribe"),
    path("webpush/resubscribe/", views.WebPushResubscribeView.as_view(), name="webpush-resubscribe"),
    path("webpush/vapid-public-key/", views.VapidPublicKeyView.as_view(), name="webpush-vapid-public-key"),
    # Users' own webhook endpoints: 404 unless DJANGO_PUSH["WEBHOOKS_USER_API"] is on.
    path("webhooks/", webhooks.WebhookEndpointListView.as_view(), name="webhook-list"),
    path("webhooks/<uuid:public_id>/", webhooks.WebhookEndpointDetailView.as_view(), name="webhook-detail"),
    path(
        "webhooks/<uuid:public_id>/rotate-secret/",
        webhooks.WebhookEndpointRotateView.as_view(),
        name="webhook-rotate-secret",
    ),
    path("engagement/", EngagementView.as_view(), name="engagement"),
    path("", include("django_push.api.inbox_urls")),  # inbox and notification preferences
]
