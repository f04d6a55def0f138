"""Test settings: SQLite + eager in-process dispatch by default; PostgreSQL + Redis + a real Celery
worker when DJANGO_PUSH_TEST_SERVICES=1 (see README, "Running the tests")."""

import hashlib
import os
from pathlib import Path
from typing import Any

from django_push.sqlite import sqlite_options

SERVICES = os.environ.get("DJANGO_PUSH_TEST_SERVICES") == "1"
# Services runs from different checkouts (worktrees) at once must not share a test database or a
# Redis key space: one run's teardown could not drop the database while the other's worker is
# connected to it ("database ... is being accessed by other users"), and each run's worker would take
# the other's tasks. So both are named after the checkout; one services run per checkout at a time.
CHECKOUT = hashlib.sha1(str(Path(__file__).resolve().parents[1]).encode()).hexdigest()[:8]
# The core without any extra (`tox -e bare`, tests/conftest.py): no DRF, Celery or beat apps.
BARE = os.environ.get("DJANGO_PUSH_TEST_BARE") == "1"

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "tests.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    *([] if BARE else ["rest_framework", "drf_spectacular", "django_celery_beat"]),
    "django_push",
    # The incumbents, for the importpushdevices tests (the test extra; not in the bare core run).
    *([] if BARE else ["push_notifications", "fcm_django"]),
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
STATIC_URL = "/static/"
REST_FRAMEWORK = {"DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

if SERVICES:
    DATABASES: dict[str, dict[str, Any]] = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": os.environ.get("DJANGO_PUSH_TEST_DB", "test"),
            "HOST": os.environ.get("PGHOST", "127.0.0.1"),
            "USER": os.environ.get("PGUSER", "postgres"),
            "PORT": os.environ.get("PGPORT", "5432"),
            "TEST": {"NAME": f"test_django_push_{CHECKOUT}"},
            # Who holds a connection, in pg_stat_activity (the teardown check in tests/conftest.py).
            "OPTIONS": {
                "application_name": f"django_push tests: {os.environ.get('DJANGO_PUSH_TEST_ROLE', 'pytest')}"
            },
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15"),
            "KEY_PREFIX": f"django_push_{CHECKOUT}",
        }
    }
else:
    # What a site should use (README, "SQLite"); tests/api/test_concurrency_sqlite.py checks them on a file.
    DATABASES = {
        "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:", "OPTIONS": sqlite_options()}
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_TASK_ALWAYS_EAGER = not SERVICES
CELERY_BROKER_URL = os.environ.get("DJANGO_PUSH_TEST_BROKER", "redis://127.0.0.1:6379/14") if SERVICES else ""
# Celery's defaults otherwise (prefetch multiplier 4, Redis visibility timeout 1 hour): recovery from a
# killed worker comes from django_push's ledger and send_due, not from broker tuning. Each checkout's
# runs get their own key prefix, so two checkouts on one machine never take each other's tasks.
CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": f"django_push_{CHECKOUT}:"}

DJANGO_PUSH = {
    "BACKENDS": {
        "apns": {"BACKEND": "django_push.backends.locmem.LocmemBackend"},
        "fcm": {"BACKEND": "django_push.backends.locmem.LocmemBackend"},
        "webpush": {"BACKEND": "django_push.backends.locmem.LocmemBackend"},
    },
    "RETRY_BACKOFF_BASE": 0.01,
    "RETRY_BACKOFF_MAX": 0.05,
    # Unit tests dispatch in-process even when a broker is configured (services mode); the
    # integration tests set their own DJANGO_PUSH, where None means "Celery, since a broker is set".
    "USE_CELERY": False,
}

# The services suite starts Celery workers with their own DJANGO_PUSH (e.g. real backends pointed at
# the local fake push service), passed as JSON.
if os.environ.get("DJANGO_PUSH_TEST_SETTINGS_JSON"):
    import json

    DJANGO_PUSH = json.loads(os.environ["DJANGO_PUSH_TEST_SETTINGS_JSON"])
