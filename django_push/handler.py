"""``backends[platform, application]``: backend instances built from settings, cached per process.

Modelled on Django's ``STORAGES`` handler. The platform alias picks ``DJANGO_PUSH["BACKENDS"]``;
an application's own OPTIONS (``DJANGO_PUSH["APPLICATIONS"]``) are merged over the platform's. One
instance per (platform, application) lives for the process, so connections and credentials are
reused across sends; changing DJANGO_PUSH (``override_settings``) drops them.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from django.utils.module_loading import import_string

from django_push.backends.base import BaseBackend
from django_push.conf import DEFAULT_APPLICATION, push_settings
from django_push.exceptions import PushConfigurationError
from django_push.extras import require_for_backend
from django_push.transport import loop

EMAIL = "email"
#: E-mail needs no DJANGO_PUSH["BACKENDS"] entry: this one sends through Django's EMAIL_BACKEND.
DEFAULT_EMAIL_BACKEND = "django_push.backends.email.EmailBackend"


def backend_config(platform: str, application: str = DEFAULT_APPLICATION) -> tuple[str, dict[str, Any]]:
    """The dotted path and merged options for (platform, application), or a precise error."""
    backends = push_settings.BACKENDS
    if platform == EMAIL and platform not in backends:
        backends[platform] = {"BACKEND": DEFAULT_EMAIL_BACKEND}  # Django's own EMAIL_BACKEND
    if platform not in backends:
        raise PushConfigurationError(
            f'DJANGO_PUSH["BACKENDS"] has no backend for platform {platform!r}; '
            f"configured: {', '.join(sorted(backends)) or 'none'}"
        )
    conf = backends[platform]
    if not isinstance(conf, dict) or "BACKEND" not in conf:
        raise PushConfigurationError(f'DJANGO_PUSH["BACKENDS"]["{platform}"] needs a "BACKEND" dotted path')
    options = dict(conf.get("OPTIONS") or {})
    app_conf = push_settings.APPLICATIONS.get(application)
    if app_conf is not None:
        if app_conf.get("PLATFORM") != platform:
            raise PushConfigurationError(
                f'DJANGO_PUSH["APPLICATIONS"]["{application}"] is for platform '
                f"{app_conf.get('PLATFORM')!r}, not {platform!r}"
            )
        options.update(app_conf.get("OPTIONS") or {})
    elif not push_settings.is_known_application(platform, application):
        raise PushConfigurationError(
            f"Unknown application {application!r} for platform {platform!r}; known: "
            f"{', '.join(push_settings.applications_for(platform))}"
        )
    return conf["BACKEND"], options


def build_backend(platform: str, application: str = DEFAULT_APPLICATION) -> BaseBackend:
    path, options = backend_config(platform, application)
    try:
        cls = import_string(path)
    except ImportError as exc:
        raise PushConfigurationError(
            f'DJANGO_PUSH["BACKENDS"]["{platform}"]["BACKEND"] = {path!r} cannot be imported: {exc}'
        ) from exc
    # A missing extra (google-auth, http_ece...) is a configuration failure, never an ImportError.
    require_for_backend(cls, f'DJANGO_PUSH["BACKENDS"]["{platform}"]')
    return cls(platform=platform, alias=platform, application=application, **options)


class BackendHandler:
    def __init__(self) -> None:
        self._backends: dict[tuple[str, str], BaseBackend] = {}
        self._lock = threading.Lock()

    def __getitem__(self, key: str | tuple[str, str]) -> BaseBackend:
        platform, application = (key, DEFAULT_APPLICATION) if isinstance(key, str) else key
        try:
            return self._backends[platform, application]
        except KeyError:
            pass
        with self._lock:
            if (platform, application) not in self._backends:
                self._backends[platform, application] = build_backend(platform, application)
            return self._backends[platform, application]

    def reset(self) -> None:
        """Forget every instance (closing them on the push loop, if it is running)."""
        with self._lock:
            old, self._backends = list(self._backends.values()), {}
        for backend in old:
            if backend.opened and not loop.on_push_loop():
                # Closing is best effort; the instances are gone either way.
                with contextlib.suppress(Exception):
                    loop.run(backend.aclose(), timeout=5)


backends = BackendHandler()
