"""The device registration API (Django REST framework): ``include("django_push.api.urls")``.

See docs/api.md for every endpoint, its validation rules and the settings that govern access.
"""
