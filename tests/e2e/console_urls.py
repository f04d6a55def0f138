"""URLs for the admin console browser tests: the admin, the API (engagement), the service worker."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("django_push.web_urls")),
    path("api/push/", include("django_push.api.urls")),
]
