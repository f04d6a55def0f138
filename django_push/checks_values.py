"""System checks for the backends' setting VALUES (checks.py checks names and shapes): ids
django_push.E012-E015, E021; the other settings' values are checked in checks_paths.py.

Everything here is cheap and local: files are read and parsed, keys loaded, backends built; nothing is
sent and no network is used (``manage.py checkpushcredentials`` does the deep checks).
Every message's hint names the setting and shows what a valid value looks like.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

from django.core import checks
from django.utils.module_loading import import_string

from django_push.conf import DEFAULT_APPLICATION, PLATFORMS
from django_push.exceptions import PushConfigurationError
from django_push.extras import extra_for_backend, missing

logger = logging.getLogger("django_push.checks")

SERVICE_ACCOUNT_KEYS = ("client_email", "private_key", "token_uri")
SERVICE_ACCOUNT_EXAMPLE = (
    '{"type": "service_account", "project_id": "my-project", "private_key": "-----BEGIN PRIVATE KEY-----'
    '\\n…", "client_email": "push@my-project.iam.gserviceaccount.com", '
    '"token_uri": "https://oauth2.googleapis.com/token"}'
)


def check_values(raw: dict[str, Any]) -> list[checks.CheckMessage]:
    """Every problem in the backends' option values in ``raw`` (the DJANGO_PUSH dict)."""
    return _check_backend_values(raw)


# -- backends -------------------------------------------------------------------------------------
class _Options:
    """One backend configuration as sending builds it: merged options, and where each one is set."""

    def __init__(self, cls: Any, platform: str, application: str, layers: list[tuple[str, dict[str, Any]]]):
        self.cls, self.platform, self.application = cls, platform, application
        self.layers = layers  # (setting path, OPTIONS dict), lowest precedence first
        self.options: dict[str, Any] = {}
        for _, options in layers:
            self.options.update(options)

    def path(self, option: str) -> str:
        """The setting path an option's value comes from (the backend's OPTIONS or the application's)."""
        source = next((p for p, o in reversed(self.layers) if option in o), self.layers[-1][0])
        return f'{source}["{option}"]'


def _configurations(raw: dict[str, Any]) -> Iterator[_Options]:
    """Each well-formed (backend, application) pair whose options pass the name checks (E011)."""
    backends = raw.get("BACKENDS", {})
    applications = raw.get("APPLICATIONS", {})
    if not isinstance(backends, dict):
        return
    if not isinstance(applications, dict):
        applications = {}
    for platform, conf in backends.items():
        if (
            platform not in PLATFORMS
            or not isinstance(conf, dict)
            or not isinstance(conf.get("BACKEND"), str)
        ):
            continue
        options = conf.get("OPTIONS") or {}
        if not isinstance(options, dict):
            continue
        try:
            cls = import_string(conf["BACKEND"])
        except ImportError:
            continue  # E008
        base = (f'DJANGO_PUSH["BACKENDS"]["{platform}"]["OPTIONS"]', options)
        apps = [
            (name, app)
            for name, app in applications.items()
            if isinstance(app, dict) and app.get("PLATFORM") == platform
        ]
        layered = [
            (name, [base, (f'DJANGO_PUSH["APPLICATIONS"]["{name}"]["OPTIONS"]', app.get("OPTIONS") or {})])
            for name, app in apps
            if isinstance(app.get("OPTIONS") or {}, dict)
        ] or [(DEFAULT_APPLICATION, [base])]
        for application, layers in layered:
            config = _Options(cls, platform, application, layers)
            try:
                cls.check_options(config.options)
            except (PushConfigurationError, AttributeError, TypeError):
                continue  # E011 (or not a backend class)
            yield config


def _check_backend_values(raw: dict[str, Any]) -> list[checks.CheckMessage]:
    from django_push.backends.apns import APNsBackend
    from django_push.backends.fcm import FCMBackend
    from django_push.backends.webpush import WebPushBackend

    errors: list[checks.CheckMessage] = []
    for config in _configurations(raw):
        found: list[checks.CheckMessage] = []
        extra = extra_for_backend(config.cls)
        if extra and missing(extra):
            continue  # check_extras says which pip command to run; its values cannot be checked without it
        if issubclass(config.cls, WebPushBackend):
            found += _check_vapid(config)
        if issubclass(config.cls, APNsBackend):
            found += _check_apns_key(config)
        if issubclass(config.cls, FCMBackend):
            found += _check_fcm_credentials(config)
        if not found:
            found += _check_construction(config)
        # An option set on the backend is seen again through each of its applications: say it once.
        errors += [message for message in found if message not in errors]
    return errors


def _check_vapid(config: _Options) -> list[checks.CheckMessage]:
    from django_push.backends.webpush import SUBJECT_RE, load_vapid

    errors: list[checks.CheckMessage] = []
    key: Any = config.options.get("vapid_private_key")
    try:
        load_vapid(key)
    except Exception as exc:
        path = config.path("vapid_private_key")
        looks_like_file = isinstance(key, str) and key.strip().startswith(("/", "./", "~"))
        errors.append(
            checks.Error(
                f"{path} is not a usable VAPID private key: {exc}",
                hint=(
                    f"{path} takes the key itself"
                    + (", not the path of a file holding it" if looks_like_file else "")
                    + ": the 43-character base64url private key `manage.py generatevapidkeys` prints, "
                    'e.g. os.environ["VAPID_PRIVATE_KEY"], or a PEM "-----BEGIN PRIVATE KEY-----\\n…" '
                    "of an EC P-256 key."
                ),
                id="django_push.E012",
            )
        )
    subject = config.options.get("vapid_subject")
    if not isinstance(subject, str) or not SUBJECT_RE.match(subject):
        path = config.path("vapid_subject")
        errors.append(
            checks.Error(
                f"{path} is {subject!r}: push services need a contact, a mailto: or https: URL.",
                hint=f'{path} = "mailto:ops@example.com" (or "https://example.com/contact").',
                id="django_push.E013",
            )
        )
    return errors


def _read(path: Any) -> bytes:
    if not isinstance(path, str | bytes) or not path:
        raise ValueError(f"{path!r} is not a file path")
    with open(path, "rb") as f:
        return f.read()


def _check_apns_key(config: _Options) -> list[checks.CheckMessage]:
    from django_push.backends.apns_tokens import load_signing_key

    o = config.options
    hint_key = 'the .p8 auth key downloaded from Apple (a PEM starting "-----BEGIN PRIVATE KEY-----")'
    problems: list[tuple[str, str, str]] = []  # (option, problem, hint)
    if o.get("key"):
        try:
            load_signing_key(o["key"])
        except Exception as exc:
            problems.append(("key", f"is not a usable APNs key: {exc}", f"= the whole text of {hint_key}"))
    if o.get("key_file"):
        try:
            load_signing_key(_read(o["key_file"]))
        except OSError as exc:
            problems.append(
                (
                    "key_file",
                    f"({o['key_file']}) cannot be read: {exc.strerror or exc}",
                    f'= "/secrets/AuthKey_KEY123.p8": the path, readable by this process, of {hint_key}',
                )
            )
        except Exception as exc:
            problems.append(
                (
                    "key_file",
                    f"({o['key_file']}) is not a usable APNs key: {exc}",
                    f'= "/secrets/AuthKey_KEY123.p8": the path of {hint_key}',
                )
            )
    for option, marker in (
        ("cert_file", b"-----BEGIN CERTIFICATE-----"),
        ("cert_key_file", b"PRIVATE KEY-----"),
    ):
        if not o.get(option):
            continue
        what = "certificate" if option == "cert_file" else "private key"
        try:
            if marker in _read(o[option]):
                continue
            problem = f"({o[option]}) holds no PEM {what}"
        except (OSError, ValueError) as exc:
            problem = f"({o[option]}) cannot be read: {getattr(exc, 'strerror', None) or exc}"
        problems.append(
            (option, problem, f'= "/secrets/apns.pem": the path of a PEM file holding the {what}')
        )
    return [
        checks.Error(
            f"{config.path(option)} {problem}.",
            hint=f"{config.path(option)} {hint}.",
            id="django_push.E014",
        )
        for option, problem, hint in problems
    ]


def _service_account_problem(info: Any) -> str:
    if not isinstance(info, dict):
        return "the JSON is not an object"
    if info.get("type", "service_account") != "service_account":
        return f"its type is {info.get('type')!r}, not 'service_account'"
    missing = [k for k in SERVICE_ACCOUNT_KEYS if not info.get(k)]
    if missing:
        return (
            f"it has no {', '.join(missing)} (a service-account key has them; google-services.json "
            "is the app's client configuration, not a service account)"
        )
    from cryptography.hazmat.primitives import serialization

    try:
        serialization.load_pem_private_key(str(info["private_key"]).encode(), password=None)
    except Exception as exc:
        return f"its private_key is not a PEM private key ({exc})"
    return ""


def _check_fcm_credentials(config: _Options) -> list[checks.CheckMessage]:
    o = config.options
    account = (
        "the service-account key from Firebase console → Project settings → Service accounts → "
        f"Generate new private key, i.e. {SERVICE_ACCOUNT_EXAMPLE}"
    )
    if o.get("credentials_file"):
        path = config.path("credentials_file")
        hint = f'{path} = "/secrets/fcm.json": the path, readable by this process, of {account}.'
        where = f"{path} ({o['credentials_file']})"
        try:
            info = json.loads(_read(o["credentials_file"]))
        except OSError as exc:
            problem = f"{where} cannot be read: {exc.strerror or exc}"
        except ValueError as exc:
            problem = f"{where} is not JSON: {exc}"
        else:
            problem = _service_account_problem(info)
            problem = f"{where} is not a service-account key: {problem}" if problem else ""
    elif o.get("credentials"):
        path = config.path("credentials")
        hint = f"{path} = json.load(open(...)) of {account}."
        problem = _service_account_problem(o["credentials"])
        problem = f"{path} is not a service-account key: {problem}" if problem else ""
    else:
        return []  # neither, or both: the backend says so (E021)
    return [checks.Error(f"{problem}.", hint=hint, id="django_push.E015")] if problem else []


def _check_construction(config: _Options) -> list[checks.CheckMessage]:
    """Other option values: build the backend as sending does (construction does no I/O)."""
    try:
        config.cls(alias=config.platform, application=config.application, **config.options)
    except PushConfigurationError as exc:
        # The backend names its platform's OPTIONS; say which application's merge it was.
        where = "" if len(config.layers) == 1 else f"{config.layers[-1][0]}, merged over the backend's: "
        return [
            checks.Error(
                f"{where}{exc}",
                hint=f"See docs/{config.platform}.md for the valid values of each option.",
                id="django_push.E021",
            )
        ]
    except Exception as exc:  # a third-party backend's own validation
        return [
            checks.Error(
                f"{config.layers[-1][0]}: {config.cls.__name__} cannot be built: {exc!r}",
                hint="Fix the option the error names; see the backend's documentation.",
                id="django_push.E021",
            )
        ]
    return []
