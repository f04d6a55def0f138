"""Test settings: SQLite + eager in-process dispatch by default; PostgreSQL + Redis + a real Celery
worker when DJANGO_PUSH_TEST_SERVICES=1 (see README, "Running the tests")."""

import os

SERVICES = os.environ.get("DJANGO_PUSH_TEST_SERVICES") == "1"
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
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": os.environ.get("DJANGO_PUSH_TEST_DB", "test"),
            "HOST": os.environ.get("PGHOST", "127.0.0.1"),
            "USER": os.environ.get("PGUSER", "postgres"),
            "PORT": os.environ.get("PGPORT", "5432"),
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15"),
        }
    }
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_TASK_ALWAYS_EAGER = not SERVICES
CELERY_BROKER_URL = os.environ.get("DJANGO_PUSH_TEST_BROKER", "redis://127.0.0.1:6379/14") if SERVICES else ""
# A task whose worker was SIGKILLed comes back after this long (Redis has no broker-side acks).
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 20}
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1

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
