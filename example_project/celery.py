"""The example site's Celery app: `celery -A example_project worker` (needs DJANGO_PUSH_BROKER_URL).

Imported by example_project/__init__.py (Celery's "First steps with Django" layout).
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")
app = Celery("example_project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
