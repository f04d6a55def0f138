"""What a model-event rule is, and what running one does: :class:`Rule`, :class:`Event` and :func:`fire`.

Pure declarations and the firing itself; which rules exist and the model signals that trigger them are
``django_push.compose.events`` (import everything from there: ``from django_push.compose import events``).
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.db import models

from django_push.compose.send import send as typed_send
from django_push.exceptions import PushConfigurationError

logger = logging.getLogger("django_push.compose.events")

CREATE, UPDATE, DELETE = "create", "update", "delete"
KINDS = (CREATE, UPDATE, DELETE)


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


@dataclass(frozen=True)
class Event:
    """What happened: ``kind`` (create/update/delete), the instance, its primary key (kept for a
    deleted instance) and, for an update, the tracked fields that changed: ``{attname: (old, new)}``."""

    kind: str
    instance: models.Model
    pk: Any
    changes: Mapping[str, tuple[Any, Any]] = dataclasses.field(default_factory=dict)


@dataclass(eq=False)
class Rule:
    """Callables (``recipients``, ``skip_if``, ``data``, ``options``, callable ``title``/``body``)
    take the instance, or ``(instance, event)`` if they accept two arguments. ``title`` and ``body``
    are Django templates rendered with ``instance``, the model's name (e.g. ``comment``), ``event``
    and ``changes``, in each recipient language; ``{language: template}`` dicts work too."""

    model: type[models.Model] | str
    notification_type: str
    recipients: Callable[..., Any]
    title: Any = ""
    body: Any = ""
    on: str | Sequence[str] = CREATE
    field: str | None = None
    changes_to: Any = UNSET
    skip_if: Callable[..., Any] | None = None
    data: Mapping[str, Any] | Callable[..., Any] | None = None
    options: Mapping[str, Any] | Callable[..., Any] | None = None
    name: str = ""
    kinds: frozenset[str] = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        kinds = frozenset((self.on,) if isinstance(self.on, str) else self.on)
        if not kinds or kinds - set(KINDS):
            raise PushConfigurationError(f"Rule on={self.on!r}: use one or more of {', '.join(KINDS)}.")
        self.kinds = kinds
        if self.changes_to is not UNSET and self.field is None:
            raise PushConfigurationError("Rule changes_to= needs field= (the field that changes).")
        if self.field is not None and not kinds & {CREATE, UPDATE}:
            raise PushConfigurationError("Rule field= only applies to create and update events.")
        if not self.name:
            label = self.model if isinstance(self.model, str) else self.model._meta.label
            self.name = f"{label}:{'/'.join(sorted(kinds))}:{self.notification_type}"

    def __repr__(self) -> str:
        return f"<Rule {self.name}>"

    def get_model(self) -> type[models.Model]:
        if isinstance(self.model, str):
            try:
                return apps.get_model(self.model)
            except (LookupError, ValueError) as exc:
                raise PushConfigurationError(f"Rule {self.name}: unknown model {self.model!r}.") from exc
        return self.model

    def attname(self) -> str | None:
        if self.field is None:
            return None
        try:
            return attname(self.get_model(), self.field)
        except FieldDoesNotExist as exc:
            raise PushConfigurationError(f"Rule {self.name}: {exc}") from exc

    def matches(self, event: Event) -> bool:
        if event.kind not in self.kinds:
            return False
        watched = self.attname()
        if watched is None or event.kind == DELETE:
            return True
        target = self.changes_to.pk if isinstance(self.changes_to, models.Model) else self.changes_to
        if event.kind == CREATE:
            return self.changes_to is UNSET or getattr(event.instance, watched) == target
        if watched not in event.changes:
            return False
        return self.changes_to is UNSET or event.changes[watched][1] == target


def attname(model: type[models.Model], name: str) -> str:
    """The attribute a concrete field stores its value in (``author`` → ``author_id``)."""
    found = model._meta.get_field(name)
    if not isinstance(found, models.Field) or not found.concrete:
        raise FieldDoesNotExist(f"{model._meta.label}.{name} is not a concrete field (no stored value).")
    return found.attname


# -- firing ---------------------------------------------------------------------------------------
def fire(rule: Rule, event: Event) -> Any:
    """Run ``rule`` for ``event`` now (what the on_commit callback does); returns the Notification,
    or None when skipped, when nobody receives it, or when the type has no push channel."""
    instance = event.instance
    if rule.skip_if is not None and _call(rule.skip_if, event):
        logger.debug("event rule %s skipped for pk=%s", rule.name, event.pk)
        return None
    to = _call(rule.recipients, event)
    context = {
        "instance": instance,
        str(instance._meta.model_name): instance,
        "event": event,
        "changes": event.changes,
    }
    data = _call(rule.data, event) if callable(rule.data) else rule.data
    options = _call(rule.options, event) if callable(rule.options) else rule.options
    return typed_send(
        rule.notification_type,
        to=to,
        title=_bind(rule.title, event),
        body=_bind(rule.body, event),
        context=context,
        data=data,
        **dict(options or {}),
    )


def _bind(value: Any, event: Event) -> Any:
    if callable(value) and not isinstance(value, str) and not _is_lazy(value):
        return partial(_call, value, event)
    return value


def _is_lazy(value: Any) -> bool:
    from django.utils.functional import Promise

    return isinstance(value, Promise)


def _call(func: Callable[..., Any], event: Event) -> Any:
    return func(event.instance, event) if _takes_event(func) else func(event.instance)


@lru_cache(maxsize=512)
def _takes_event(func: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in params)
