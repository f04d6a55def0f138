"""System checks for the values of DJANGO_PUSH's other settings (checks_values.py checks the backends'):
ids django_push.E016-E020, W002.

Dotted paths (DELIVERY_FILTERS, MESSAGE_RENDERER, EVENT_RULES) are imported, the throttle rate parsed,
NOTIFICATION_TYPES validated and the Celery app looked for; nothing is sent and no network is used.
"""

from __future__ import annotations

from typing import Any

from django.core import checks
from django.utils.module_loading import import_string

from django_push.conf import DEFAULTS
from django_push.exceptions import PushConfigurationError
from django_push.extras import missing

FILTERS_EXAMPLE = (
    '["django_push.compose.policies.preferences", "django_push.compose.policies.quiet_hours", '
    '"django_push.compose.policies.rate_limits"]'
)


def check_paths(raw: dict[str, Any]) -> list[checks.CheckMessage]:
    """Every problem in ``raw``'s dotted paths, rules, types and rate, and in the Celery set-up."""
    errors: list[checks.CheckMessage] = []
    errors += _check_delivery_filters(raw.get("DELIVERY_FILTERS", DEFAULTS["DELIVERY_FILTERS"]))
    errors += _check_renderer(raw.get("MESSAGE_RENDERER", DEFAULTS["MESSAGE_RENDERER"]))
    errors += _check_channel_paths(raw)
    errors += _check_throttle_rate(raw.get("API_THROTTLE_RATE", DEFAULTS["API_THROTTLE_RATE"]))
    errors += _check_throttle_rate(
        raw.get("ENGAGEMENT_THROTTLE_RATE", DEFAULTS["ENGAGEMENT_THROTTLE_RATE"]), "ENGAGEMENT_THROTTLE_RATE"
    )
    types_ok, type_errors = _check_notification_types()
    errors += type_errors
    errors += _check_event_rules(raw.get("EVENT_RULES", DEFAULTS["EVENT_RULES"]), types_ok)
    errors += check_celery()
    return errors


# -- dotted paths ---------------------------------------------------------------------------------
def _resolve(value: Any) -> tuple[Any, str]:
    """(the object, "") or (None, the problem) for a dotted path (or an object given directly)."""
    if not isinstance(value, str):
        return value, ""
    try:
        return import_string(value), ""
    except ImportError as exc:
        return None, f"cannot be imported: {exc}"
    except Exception as exc:  # the module raised while importing
        return None, f"cannot be imported: {type(exc).__name__}: {exc}"


def _check_delivery_filters(value: Any) -> list[checks.CheckMessage]:
    setting = 'DJANGO_PUSH["DELIVERY_FILTERS"]'
    hint = f"{setting} = {FILTERS_EXAMPLE}: dotted paths of callables (notification, devices) -> decisions."
    if not isinstance(value, list | tuple):
        return [checks.Error(f"{setting} must be a list, not {value!r}.", hint=hint, id="django_push.E016")]
    errors: list[checks.CheckMessage] = []
    for i, path in enumerate(value):
        found, problem = _resolve(path)
        if not problem and not callable(found):
            problem = "is not callable"
        if problem:
            errors.append(
                checks.Error(
                    f"{setting}[{i}] = {path!r} {problem}; every notification would stay in 'sending'.",
                    hint=hint,
                    id="django_push.E016",
                )
            )
    return errors


def _check_renderer(value: Any) -> list[checks.CheckMessage]:
    if not value:
        return []
    found, problem = _resolve(value)
    if not problem and not callable(found):
        problem = "is not callable"
    if not problem:
        return []
    return [
        checks.Error(
            f'DJANGO_PUSH["MESSAGE_RENDERER"] = {value!r} {problem}.',
            hint='DJANGO_PUSH["MESSAGE_RENDERER"] = "django_push.compose.rendering.render" (a callable '
            "(notification, device) -> PushMessage), or None for the same message to every device.",
            id="django_push.E017",
        )
    ]


#: Channel settings that are dotted paths of callables: (setting, example, what it must be).
CHANNEL_PATHS = (
    ("EMAIL_ADDRESS_RESOLVER", "accounts.contact.email_for", "a callable f(user) -> str | None"),
    ("PHONE_NUMBER_RESOLVER", "accounts.contact.phone_for", "a callable f(user) -> str | None (E.164)"),
    (
        "EMAIL_RENDERER",
        "django_push.compose.email.render",
        "a callable (notification, device) -> PushMessage",
    ),
)


def _check_channel_paths(raw: dict[str, Any]) -> list[checks.CheckMessage]:
    """E024: a channel resolver or renderer that does not import (every send would fail on it)."""
    errors: list[checks.CheckMessage] = []
    for name, example, what in CHANNEL_PATHS:
        value = raw.get(name, DEFAULTS[name])
        if not value:
            continue
        found, problem = _resolve(value)
        if not problem and not callable(found):
            problem = "is not callable"
        if problem:
            errors.append(
                checks.Error(
                    f'DJANGO_PUSH["{name}"] = {value!r} {problem}.',
                    hint=f'e.g. DJANGO_PUSH["{name}"] = "{example}": {what}.',
                    id="django_push.E024",
                )
            )
    return errors


def _check_event_rules(value: Any, types_ok: bool) -> list[checks.CheckMessage]:
    from django_push.compose import events
    from django_push.compose import types as notification_types

    setting = 'DJANGO_PUSH["EVENT_RULES"]'
    hint = (
        f'{setting} = ["blog.push_rules.comment_rule"]: dotted paths of a '
        "django_push.compose.events.Rule or of a list of Rules."
    )
    if not isinstance(value, list | tuple):
        return [checks.Error(f"{setting} must be a list, not {value!r}.", hint=hint, id="django_push.E018")]
    known = set(notification_types.all_types()) if types_ok else None
    errors: list[checks.CheckMessage] = []
    for i, path in enumerate(value):
        where = f"{setting}[{i}] = {path!r}"
        found, problem = _resolve(path)
        rules = [found] if isinstance(found, events.Rule) else found
        if not problem and (
            not isinstance(rules, list | tuple) or not all(isinstance(r, events.Rule) for r in rules)
        ):
            problem = "names neither a Rule nor a list of Rules"
        if problem:
            errors.append(checks.Error(f"{where} {problem}.", hint=hint, id="django_push.E018"))
            continue
        for rule in rules:
            try:
                rule.attname()  # the model, and the watched field, exist
            except PushConfigurationError as exc:
                errors.append(checks.Error(f"{where}: {exc}", hint=hint, id="django_push.E018"))
                continue
            if known is not None and rule.notification_type not in known:
                errors.append(
                    checks.Error(
                        f"{where}: rule {rule.name} names the unknown notification type "
                        f"{rule.notification_type!r}.",
                        hint=f"The rule's notification_type is one of {', '.join(sorted(known))}, or "
                        f'one declared in DJANGO_PUSH["NOTIFICATION_TYPES"] = {{"{rule.notification_type}": '
                        '{"priority": "normal"}}.',
                        id="django_push.E018",
                    )
                )
    return errors


# -- rates and types ------------------------------------------------------------------------------
def _check_throttle_rate(value: Any, key: str = "API_THROTTLE_RATE") -> list[checks.CheckMessage]:
    if not value or missing("api"):
        return []  # None turns the throttle off; without the api extra there is no API to throttle
    from django_push.api.throttling import EngagementThrottle, RegistrationThrottle

    throttle = EngagementThrottle if key == "ENGAGEMENT_THROTTLE_RATE" else RegistrationThrottle
    what = "engagement reports" if key == "ENGAGEMENT_THROTTLE_RATE" else "device registration"
    try:
        throttle()  # exactly what each request does: get_rate(), then DRF's parse_rate()
    except Exception:
        return [
            checks.Error(
                f'DJANGO_PUSH["{key}"] = {value!r} is not a rate; {what} would answer 500.',
                hint=f'DJANGO_PUSH["{key}"] = "60/min": a count, "/", and s, m, h or d '
                '(e.g. "10/s", "1000/hour", "5000/day"), or None for no throttle.',
                id="django_push.E019",
            )
        ]
    return []


def _check_notification_types() -> tuple[bool, list[checks.CheckMessage]]:
    from django_push.compose import types as notification_types

    problems = notification_types.check()
    return not problems, [
        checks.Error(
            problem,
            hint='e.g. DJANGO_PUSH["NOTIFICATION_TYPES"] = {"order_shipped": {"priority": "high", '
            '"channels": ["push", "in_app"], "rate_limit": "5/hour", "ttl": 3600}}; keys: '
            f"{', '.join(sorted(notification_types.FIELDS))}; priorities: "
            f"{', '.join(notification_types.PRIORITIES)}; None removes a built-in type.",
            id="django_push.E020",
        )
        for problem in problems
    ]


# -- Celery ---------------------------------------------------------------------------------------
def check_celery() -> list[checks.CheckMessage]:
    from django_push.dispatch.jobs import CELERY_APP_HINT, celery_problem

    problem = celery_problem()
    if not problem:
        return []
    return [
        checks.Warning(
            f"{problem}: django_push would send in-process, not through Celery workers.",
            hint=CELERY_APP_HINT,
            id="django_push.W002",
        )
    ]
