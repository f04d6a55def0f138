"""The Celery app the services-mode tests run a real worker with (`celery -A tests.celery_app worker`)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
app = Celery("tests")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["django_push"])
app.set_current()
app.set_default()
