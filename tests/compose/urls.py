"""Test-only urlconf: the inbox and preferences API on its own."""

from django.urls import include, path

urlpatterns = [path("api/push/", include("django_push.api.inbox_urls"))]
