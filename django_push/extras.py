"""Optional dependencies ("extras") and the system checks that name the missing ones.

The core of ``django-pushcast`` (models, dispatch, admin, system checks, management commands, the
console/locmem/dummy backends and APNs) needs Django, httpx[http2], PyJWT and cryptography only.
Each feature below needs its extra; when a configured feature lacks it, ``manage.py check`` says which
``pip install "django-pushcast[...]"`` to run, and sending records a ``configuration`` failure
instead of raising ImportError.

======================  ==============================================  ========================
extra                   installs                                        needed by
======================  ==============================================  ========================
``apns``                PyJWT[crypto] (already in the core)             APNsBackend
``fcm``                 google-auth                                     FCMBackend
``webpush``             http_ece, py-vapid                              WebPushBackend
``api``                 djangorestframework, drf-spectacular            ``django_push.api``
``celery``              celery, django-celery-beat                      Celery fan-out, beat
``fast``                jh2                                             ``"h2_library": "jh2"``
``all``                 every extra above
======================  ==============================================  ========================
"""

from __future__ import annotations

import importlib.util
from typing import Any

from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from django_push.exceptions import PushConfigurationError

DISTRIBUTION = "django-pushcast"

# extra -> the modules it provides, and the distributions that provide them (for messages).
EXTRAS: dict[str, dict[str, str]] = {
    "apns": {"jwt": "PyJWT", "cryptography": "cryptography"},
    "fcm": {"google.auth": "google-auth", "google.oauth2": "google-auth"},
    "webpush": {"http_ece": "http_ece", "py_vapid": "py-vapid"},
    "api": {"rest_framework": "djangorestframework", "drf_spectacular": "drf-spectacular"},
    "celery": {"celery": "celery", "django_celery_beat": "django-celery-beat"},
    "fast": {"jh2": "jh2"},
}


def pip_command(extra: str) -> str:
    return f'pip install "{DISTRIBUTION}[{extra}]"'


def importable(module: str) -> bool:
    """Whether ``module`` can be imported (without importing it; a missing parent counts as missing)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def missing(extra: str) -> list[str]:
    """The distributions of ``extra`` that are not installed (empty when it is complete)."""
    names: list[str] = []
    for module, distribution in EXTRAS[extra].items():
        if not importable(module) and distribution not in names:
            names.append(distribution)
    return names


def missing_message(extra: str, feature: str) -> str:
    return (
        f"{feature} needs the {extra!r} extra, and {', '.join(missing(extra))} "
        f"{'is' if len(missing(extra)) == 1 else 'are'} not installed: {pip_command(extra)}"
    )


def require(extra: str, feature: str) -> None:
    """Raise ImproperlyConfigured, naming the pip command, when ``extra`` is not fully installed."""
    if missing(extra):
        raise ImproperlyConfigured(missing_message(extra, feature))


def extra_for_backend(cls: Any) -> str | None:
    """The extra a backend class (or a subclass of a built-in one) needs, if any."""
    from django_push.backends.apns import APNsBackend
    from django_push.backends.fcm import FCMBackend
    from django_push.backends.webpush import WebPushBackend

    if not isinstance(cls, type):
        return None
    for base, extra in ((FCMBackend, "fcm"), (WebPushBackend, "webpush"), (APNsBackend, "apns")):
        if issubclass(cls, base):
            return extra
    return None


def require_for_backend(cls: Any, setting_path: str) -> None:
    """PushConfigurationError (recorded as a ``configuration`` failure at send time) for a backend
    whose extra is missing."""
    extra = extra_for_backend(cls)
    if extra and missing(extra):
        raise PushConfigurationError(missing_message(extra, f"{setting_path} ({cls.__name__})"))


def celery_configured() -> bool:
    """Whether the settings ask for Celery: USE_CELERY = True, or unset with a CELERY_BROKER_URL."""
    from django.conf import settings

    from django_push.conf import push_settings

    use = push_settings.USE_CELERY
    if use is not None:
        return bool(use)
    return bool(getattr(settings, "CELERY_BROKER_URL", None))


def check_extras(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """django_push.E022 (a configured backend's extra is missing, ``h2_library="jh2"`` without jh2 included)
    and E023 (Celery asked for without the ``celery`` extra)."""
    from django_push.conf import push_settings

    errors: list[checks.CheckMessage] = []
    for platform, conf in push_settings.BACKENDS.items():
        if not isinstance(conf, dict) or not isinstance(conf.get("BACKEND"), str):
            continue  # E006
        try:
            cls = import_string(conf["BACKEND"])
        except ImportError:
            continue  # E008
        extra = extra_for_backend(cls)
        if extra and missing(extra):
            errors.append(
                checks.Error(
                    missing_message(extra, f'DJANGO_PUSH["BACKENDS"]["{platform}"] ({cls.__name__})'),
                    hint=f"Run {pip_command(extra)} (or use the console backend in development).",
                    id="django_push.E022",
                )
            )
    if celery_configured() and missing("celery"):
        errors.append(
            checks.Error(
                missing_message("celery", "Celery fan-out (USE_CELERY or CELERY_BROKER_URL)"),
                hint=f'Run {pip_command("celery")}, or set DJANGO_PUSH["USE_CELERY"] = False '
                "to send in-process.",
                id="django_push.E023",
            )
        )
    for platform, conf in push_settings.BACKENDS.items():
        options = conf.get("OPTIONS") if isinstance(conf, dict) else None
        if isinstance(options, dict) and options.get("h2_library") == "jh2" and missing("fast"):
            errors.append(
                checks.Error(
                    missing_message(
                        "fast", f'DJANGO_PUSH["BACKENDS"]["{platform}"]["OPTIONS"]["h2_library"]'
                    ),
                    hint=f'Run {pip_command("fast")}, or use "h2_library": "auto" (jh2 when installed).',
                    id="django_push.E022",
                )
            )
    return errors
