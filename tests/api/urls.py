"""Test-only urlconf for the API tests (tests/urls.py belongs to the whole suite)."""

from django.urls import include, path

urlpatterns = [
    path("api/push/", include("django_push.api.urls")),
    path("", include("django_push.web_urls")),
]
