"""Browser-facing URLs: ``path("", include("django_push.web_urls"))`` serves /push-sw.js at the root
and the e-mail unsubscribe page at /unsubscribe/<token>/."""

from django.urls import path

from django_push.web.unsubscribe import unsubscribe
from django_push.web.views import service_worker

app_name = "django_push_web"

urlpatterns = [
    path("push-sw.js", service_worker, name="service-worker"),
    path("unsubscribe/<str:token>/", unsubscribe, name="unsubscribe"),
]
