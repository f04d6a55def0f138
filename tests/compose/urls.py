"""Test-only urlconf: the inbox and preferences API, and the browser-facing URLs (e-mail unsubscribe)."""

from django.urls import include, path

urlpatterns = [
    path("api/push/", include("django_push.api.inbox_urls")),
    path("", include("django_push.web_urls")),
]
