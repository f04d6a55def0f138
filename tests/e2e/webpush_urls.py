"""URLs for the Web Push browser test: the API, the service worker, and a page using the tags."""

from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.urls import include, path

PAGE = """{% load django_push %}<!doctype html><html><head><title>push test</title>
{% push_scripts %}</head><body><h1>Notifications</h1>{% push_subscribe_button %}</body></html>"""


def page(request: HttpRequest) -> HttpResponse:
    return HttpResponse(engines["django"].from_string(PAGE).render({}, request))


urlpatterns = [
    path("", page, name="push-page"),
    path("", include("django_push.web_urls")),
    path("api/push/", include("django_push.api.urls")),
]
