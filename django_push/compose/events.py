"""Model events → notifications: declarative rules, sent on transaction commit.

A :class:`Rule` says, for one model, on which events (``create``, ``update``, ``delete``; an update
optionally only when a ``field`` changes, or changes to ``changes_to``) who receives what::

    from django_push.compose.events import Rule

    comment_rule = Rule(
        model="blog.Comment",
        on="create",
        notification_type="comment",
        recipients=lambda comment: comment.post.author,
        title=_("New comment on {{ comment.post.title }}"),
        body="{{ comment.author }}: {{ comment.body|truncatechars:80 }}",
        data=lambda comment: {"post": comment.post_id, "comment": comment.pk},
        skip_if=lambda comment: comment.author_id == comment.post.author_id,
    )

Registration is explicit: list dotted paths (to a rule, or to a list of rules) in
``DJANGO_PUSH["EVENT_RULES"]``, or call :func:`register` in your ``AppConfig.ready()``. Signals are
connected only for models that have rules (:func:`connect_rules`, called by django_push's own
``ready()``). When a matching save or delete is committed (``transaction.on_commit``), the rule's
callables run and :func:`django_push.compose.send.send` sends the notification through the
type's channels; a rolled-back transaction sends nothing, and an error in a rule is logged, never
raised into the code that saved. ``bulk_create``, ``QuerySet.update()`` and ``QuerySet.delete()`` of
rows that are not loaded send no model signals, so they fire no rules.

Field changes compare against the values loaded from the database (kept when an instance is loaded,
for the tracked fields only); an instance that was not loaded (``Model(pk=…)``) costs one query in
``pre_save``. Switch rules off with ``events.disabled()`` or ``DJANGO_PUSH["EVENTS_ENABLED"] = False``.

This module holds the registry, the model signals and their receivers; :class:`Rule`, :class:`Event`
and :func:`fire` are defined in ``event_rules`` and imported from here.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache, partial
from typing import Any

from django.apps import apps
from django.core.signals import setting_changed
from django.db import models, transaction
from django.db.models.signals import post_delete, post_init, post_save, pre_save
from django.utils.module_loading import import_string

from django_push.compose.event_rules import (
    CREATE,
    DELETE,
    KINDS,
    UNSET,
    UPDATE,
    Event,
    Rule,
    attname,
    fire,
)
from django_push.conf import push_settings
from django_push.exceptions import PushConfigurationError

__all__ = [
    "CREATE",
    "DELETE",
    "ENABLED_SETTING",
    "KINDS",
    "UNSET",
    "UPDATE",
    "Event",
    "Rule",
    "attname",
    "connect_rules",
    "disabled",
    "enabled",
    "fire",
    "register",
    "registered",
    "rules",
    "unregister",
]

logger = logging.getLogger("django_push.compose.events")

ENABLED_SETTING = "EVENTS_ENABLED"
_LOADED = "_django_push_loaded"
_BEFORE = "_django_push_before"


# -- registry -------------------------------------------------------------------------------------
_registry: list[Rule] = []
_version = 0  # bumped by register/unregister; with EVENT_RULES, the key of the cached index
_cached_index: tuple[Any, dict[type[models.Model], list[Rule]]] = (None, {})
_connected: dict[type[models.Model], bool] = {}  # model -> whether field values are tracked
_tracked_cache: dict[type[models.Model], frozenset[str]] = {}
_disabled = 0
_lock = threading.RLock()


def register(*rules: Rule) -> None:
    """Register rules (call it from ``AppConfig.ready()``); connects their models' signals."""
    global _version
    with _lock:
        for rule in rules:
            if not isinstance(rule, Rule):
                raise TypeError(f"events.register() takes Rule objects, not {type(rule).__name__}.")
            if apps.models_ready:
                rule.attname()  # the model and field exist, or PushConfigurationError now
            if rule not in _registry:
                _registry.append(rule)
        _version += 1
        if apps.models_ready:
            _sync_or_log()


def unregister(*rules: Rule) -> None:
    global _version
    with _lock:
        for rule in rules:
            if rule in _registry:
                _registry.remove(rule)
        _version += 1
        _sync()


@contextmanager
def registered(*rules: Rule) -> Iterator[None]:
    """Rules active for the duration of a ``with`` block (tests)."""
    register(*rules)
    try:
        yield
    finally:
        unregister(*rules)


def rules() -> list[Rule]:
    """Every active rule: registered ones, then those of ``DJANGO_PUSH["EVENT_RULES"]``."""
    return [*_registry, *_from_setting(tuple(push_settings.EVENT_RULES or ()))]


@lru_cache(maxsize=8)
def _from_setting(paths: tuple[str, ...]) -> tuple[Rule, ...]:
    found: list[Rule] = []
    for path in paths:
        try:
            value = import_string(path) if isinstance(path, str) else path
        except ImportError as exc:
            raise PushConfigurationError(
                f'DJANGO_PUSH["EVENT_RULES"]: cannot import {path!r}: {exc}'
            ) from exc
        values = [value] if isinstance(value, Rule) else value
        if not isinstance(values, list | tuple) or not all(isinstance(v, Rule) for v in values):
            raise PushConfigurationError(
                f'DJANGO_PUSH["EVENT_RULES"]: {path!r} must name a Rule or a list of Rules.'
            )
        found.extend(values)
    return tuple(found)


def _index() -> dict[type[models.Model], list[Rule]]:
    """Rules by model, rebuilt when the registry or ``EVENT_RULES`` changes."""
    global _cached_index
    key = (_version, tuple(push_settings.EVENT_RULES or ()))
    cached_key, index = _cached_index
    if cached_key != key:
        index = {}
        for rule in rules():
            index.setdefault(rule.get_model(), []).append(rule)
        _cached_index = (key, index)
    return index


def _tracked(model: type[models.Model]) -> frozenset[str]:
    rules_ = [rule for rule in _index().get(model, ()) if UPDATE in rule.kinds]
    return frozenset(name for rule in rules_ if (name := rule.attname()) is not None)


def connect_rules() -> None:
    """Connect model signals for the models that have rules; called from django_push's ready().

    Rules added later with :func:`register`, or through a changed ``DJANGO_PUSH`` setting (tests),
    are connected as they come.
    """
    setting_changed.connect(_settings_changed, dispatch_uid="django_push.compose.events.settings")
    with _lock:
        _sync_or_log()


def _sync_or_log() -> None:
    """:func:`_sync` at start-up: a bad ``EVENT_RULES`` is logged, not raised, so management
    commands still run and ``manage.py check`` reports it (django_push.E018)."""
    try:
        _sync()
    except PushConfigurationError as exc:
        logger.error("DJANGO_PUSH['EVENT_RULES'] is invalid; no event rule is connected: %s", exc)


def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == "DJANGO_PUSH" and apps.models_ready:
        with _lock:
            try:
                _sync()
            except PushConfigurationError:  # reported where the rules are used (or by connect_rules)
                logger.exception("DJANGO_PUSH['EVENT_RULES'] is invalid")


def _sync() -> None:
    """Connect signals for models with rules (post_init/pre_save only where a field is tracked)."""
    global _tracked_cache, _cached_index
    _cached_index = (None, {})
    wanted = {model: bool(_tracked(model)) for model in _index()}
    _tracked_cache = {model: _tracked(model) for model in wanted}
    for model, tracked in list(_connected.items()):
        if wanted.get(model) != tracked:
            _disconnect(model)
    for model, tracked in wanted.items():
        if model not in _connected:
            uid = f"django_push.compose.events:{model._meta.label}"
            post_save.connect(_post_save, sender=model, weak=False, dispatch_uid=uid)
            post_delete.connect(_post_delete, sender=model, weak=False, dispatch_uid=uid)
            if tracked:
                post_init.connect(_post_init, sender=model, weak=False, dispatch_uid=uid)
                pre_save.connect(_pre_save, sender=model, weak=False, dispatch_uid=uid)
            _connected[model] = tracked


def _disconnect(model: type[models.Model]) -> None:
    uid = f"django_push.compose.events:{model._meta.label}"
    for signal in (post_save, post_delete, post_init, pre_save):
        signal.disconnect(sender=model, dispatch_uid=uid)
    _connected.pop(model, None)


# -- switching off --------------------------------------------------------------------------------
@contextmanager
def disabled() -> Iterator[None]:
    """No rule fires for saves and deletes inside the block (process-wide; for tests and imports)."""
    global _disabled
    with _lock:
        _disabled += 1
    try:
        yield
    finally:
        with _lock:
            _disabled -= 1


def enabled() -> bool:
    return _disabled == 0 and bool(push_settings.user_settings.get(ENABLED_SETTING, True))


# -- receivers ------------------------------------------------------------------------------------
def _post_init(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    fields = _tracked_cache.get(sender)
    if fields:
        values = instance.__dict__
        values[_LOADED] = {name: values[name] for name in fields if name in values}


def _pre_save(sender: type[models.Model], instance: models.Model, raw: bool = False, **kwargs: Any) -> None:
    fields = _tracked_cache.get(sender)
    if raw or not fields or not enabled():
        return
    state = instance._state
    loaded = instance.__dict__.get(_LOADED) if not state.adding else None
    before = dict(loaded or {})
    missing = [name for name in fields if name not in before]
    pk_field = sender._meta.pk
    creating = state.adding and (instance.pk is None or pk_field.has_default())
    if missing and not creating:
        # Not loaded from the database (or a deferred field): one query for the stored values.
        row = sender._base_manager.using(kwargs.get("using")).filter(pk=instance.pk).values(*missing).first()
        before.update(row or {})
    instance.__dict__[_BEFORE] = before


def _post_save(
    sender: type[models.Model],
    instance: models.Model,
    created: bool,
    raw: bool = False,
    using: str | None = None,
    update_fields: Any = None,
    **kwargs: Any,
) -> None:
    values = instance.__dict__
    before = values.pop(_BEFORE, None)
    fields = _tracked_cache.get(sender)
    saved = None if update_fields is None else {attname(sender, f) for f in update_fields}
    if fields:  # what is stored now is what the next save compares against
        stored = dict(values.get(_LOADED) or {}) if saved is not None else {}
        stored.update({n: values[n] for n in fields if n in values and (saved is None or n in saved)})
        values[_LOADED] = stored
    if raw or not enabled():
        return
    changes: dict[str, tuple[Any, Any]] = {}
    if not created and before:
        for name, old in before.items():
            new = values.get(name, old)
            if (saved is None or name in saved) and new != old:
                changes[name] = (old, new)
    _schedule(sender, Event(CREATE if created else UPDATE, instance, instance.pk, changes), using)


def _post_delete(
    sender: type[models.Model], instance: models.Model, using: str | None = None, **kwargs: Any
) -> None:
    if enabled():
        _schedule(sender, Event(DELETE, instance, instance.pk), using)


def _schedule(sender: type[models.Model], event: Event, using: str | None) -> None:
    for rule in _index().get(sender, ()):
        if rule.matches(event):
            transaction.on_commit(partial(_fire_logged, rule, event), using=using)


def _fire_logged(rule: Rule, event: Event) -> None:
    try:
        fire(rule, event)
    except Exception:
        logger.exception("event rule %s failed for %s pk=%s", rule.name, event.kind, event.pk)
