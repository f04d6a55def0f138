"""Settings for the example site: SQLite, the console push backend, no broker, no credentials.

Set DJANGO_PUSH_BROKER_URL (e.g. redis://127.0.0.1:6379/0) to send through Celery workers instead.
"""

import os
from datetime import timedelta
from pathlib import Path

from django_push.compose.types import digest
from django_push.sqlite import sqlite_options

BASE_DIR = Path(__file__).resolve().parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-project-not-secret")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en"
ROOT_URLCONF = "example_project.urls"
WSGI_APPLICATION = "example_project.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "django_celery_beat",
    "django_push",
    "example_project.demo",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
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
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DJANGO_DB_PATH", str(BASE_DIR / "db.sqlite3")),
        # Concurrent requests write without "database is locked": WAL, BEGIN IMMEDIATE, a 20 s wait.
        "OPTIONS": sqlite_options(),
    }
}
STATIC_URL = "/static/"
LOGIN_URL = "/admin/login/"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.BasicAuthentication",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {"TITLE": "django_push example API", "VERSION": "1"}

CELERY_BROKER_URL = os.environ.get("DJANGO_PUSH_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL

CONSOLE = {"BACKEND": "django_push.backends.console.ConsoleBackend"}
# E-mail goes through Django's EMAIL_BACKEND (printed to the console here; django-anymail in production).
EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = "demo@example.com"
DJANGO_PUSH = {
    "BACKENDS": {
        "apns": CONSOLE,
        "fcm": CONSOLE,
        "webpush": CONSOLE,
        "sms": CONSOLE,  # or django_push.backends.twilio.TwilioSMSBackend (docs/sms.md)
        # Signed webhooks (docs/webhooks.md); `manage.py demowebhook` shows one verified delivery.
        "webhook": {"BACKEND": "django_push.backends.webhooks.WebhookBackend"},
    },
    # Users manage their own webhook endpoints at /api/push/webhooks/.
    "WEBHOOKS_USER_API": True,
    # Routing by type (docs/channels.md): a comment is pushed and kept in the inbox, then mailed in a
    # digest if still unread after a day; a security alert goes out on push, e-mail and SMS at once.
    "NOTIFICATION_TYPES": {
        "comment": {
            "channels": ["push", "in_app"],
            "rules": [digest(channel="email", after=timedelta(hours=24), unless="read")],
        },
        "security_alert": {"channels": ["push", "in_app", "email", "sms"]},
    },
    "PHONE_NUMBER_RESOLVER": "example_project.demo.contact.phone_for",
    "SITE_URL": "http://127.0.0.1:8000",
    # Preferences, quiet hours and rate limits on every send path; texts rendered per device language.
    "DELIVERY_FILTERS": [
        "django_push.compose.policies.preferences",
        "django_push.compose.policies.quiet_hours",
        "django_push.compose.policies.rate_limits",
    ],
    "MESSAGE_RENDERER": "django_push.compose.rendering.render",
    # A demo key pair (generated with `manage.py generatevapidkeys`); never reuse it in production.
    "VAPID_PUBLIC_KEY": (
        "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM"
    ),
    "WEBPUSH_ALLOWED_HOSTS": [
        "fcm.googleapis.com",
        "updates.push.services.mozilla.com",
        "push.services.mozilla.com",
        "web.push.apple.com",
        "*.notify.windows.com",
    ],
}

LOGGING = {
    "version": 1,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django_push": {"handlers": ["console"], "level": "INFO"}},
}
