"""Test-only urlconf: the inbox and preferences API (with the api extra), and the browser-facing URLs
(e-mail unsubscribe), which the bare core serves too."""

from django.urls import include, path

from django_push.extras import missing

urlpatterns = [path("", include("django_push.web_urls"))]
if not missing("api"):  # the bare core run (tox -e bare): the API's tests skip at rest_framework
    urlpatterns.insert(0, path("api/push/", include("django_push.api.inbox_urls")))
