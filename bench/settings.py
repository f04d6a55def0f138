"""Settings for benchmarks: PostgreSQL (database from BENCH_DB, created by the scripts), backends from
BENCH_PUSH_JSON (a DJANGO_PUSH dict), in-process dispatch unless a script says otherwise."""

import json
import os

SECRET_KEY = "bench-only"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django_push",
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("BENCH_DB", "bench_push"),
        "HOST": os.environ.get("PGHOST", "127.0.0.1"),
        "USER": os.environ.get("PGUSER", "postgres"),
        "PORT": os.environ.get("PGPORT", "5432"),
        # BENCH_SCHEMA: work in a schema of an existing database (bench/dashboard_scale.py uses the
        # shared database "test" without touching its public schema).
        **(
            {"OPTIONS": {"options": f"-c search_path={os.environ['BENCH_SCHEMA']}"}}
            if os.environ.get("BENCH_SCHEMA")
            else {}
        ),
    }
}
CELERY_TASK_ALWAYS_EAGER = True
DUMMY = {"BACKEND": "django_push.backends.dummy.DummyBackend"}
DJANGO_PUSH = (
    json.loads(os.environ["BENCH_PUSH_JSON"])
    if os.environ.get("BENCH_PUSH_JSON")
    else {
        "BACKENDS": {"apns": DUMMY, "fcm": DUMMY, "webpush": DUMMY},
    }
)
