"""The test project's package. In services mode (a broker configured) it imports the Celery app, as a
site's project package does, so every process that loads tests.settings uses it (django_push.W002)."""

import os

if os.environ.get("DJANGO_PUSH_TEST_SERVICES") == "1":
    from .celery_app import app as celery_app

    __all__ = ("celery_app",)
