"""The device registration API (Django REST framework): ``include("django_push.api.urls")``.

See docs/api.md for every endpoint, its validation rules and the settings that govern access.
"""

from django_push.extras import require

# Without the "api" extra, including these URLs fails at once, with the pip command to run.
require("api", "django_push.api (the REST endpoints)")
