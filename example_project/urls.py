from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView
from drf_spectacular.views import SpectacularAPIView

urlpatterns = [
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
    path("webpush/", TemplateView.as_view(template_name="webpush.html"), name="webpush-demo"),
    path("admin/", admin.site.urls),
    path("api/push/", include("django_push.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("", include("django_push.web_urls")),  # /push-sw.js, the service worker, at the site root
]
