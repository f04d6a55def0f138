from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView

urlpatterns = [
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
    path("admin/", admin.site.urls),
]

try:  # the API (django_push.api) and its schema
    from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView  # noqa: F401

    urlpatterns += [
        path("api/push/", include("django_push.api.urls")),
        path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    ]
except ImportError:  # pragma: no cover
    pass
