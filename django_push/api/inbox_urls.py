"""URLs of the inbox and preferences API. Mounted by ``django_push.api.urls`` (so they share its
``django_push`` namespace), or on their own: ``path("api/push/", include("django_push.api.inbox_urls"))``.

=====================================  ======================================================
``inbox/``                             GET: my items, unread first, paginated (``?unread=true``)
``inbox/unread-count/``                GET: ``{"unread": n}``
``inbox/<id>/``                        GET, DELETE one item
``inbox/<id>/read/``                   POST: mark one read
``inbox/read/``                        POST ``{"ids": [...]}``: mark several read
``inbox/read-all/``                    POST: mark all read
``preferences/``                       GET: every type with my channel choices
``preferences/<type>/``                GET, PATCH/PUT ``{"push": false}`` (400 for a required type)
``preferences/quiet-hours/``           GET, PUT, DELETE my quiet hours
=====================================  ======================================================
"""

from django.urls import path
from rest_framework.routers import SimpleRouter

from django_push.api.inbox import InboxViewSet
from django_push.api.preferences import PreferenceViewSet, QuietHoursView

router = SimpleRouter()
router.register("inbox", InboxViewSet, basename="inbox")
router.register("preferences", PreferenceViewSet, basename="preference")

urlpatterns = [
    # Before the router's preferences/<type>/, which would otherwise match "quiet-hours".
    path("preferences/quiet-hours/", QuietHoursView.as_view(), name="quiet-hours"),
    *router.urls,
]
