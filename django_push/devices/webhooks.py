"""Webhook endpoints: registration, secret rotation, enabling, and health after each batch.

The admin, the API and a site's own code all call these. An endpoint is a
:class:`~django_push.models.WebhookEndpoint` tied to a ``Device`` (platform ``webhook``, address =
URL), so the device's ``active`` is what dispatch looks at: it is True only while the endpoint is
active and not disabled, and these functions keep the two in step.

A URL is checked at registration with the rules of :mod:`django_push.backends.webhook_urls` (https;
every resolved address public unless listed in ``WEBHOOK_ALLOWED_PRIVATE_HOSTS``) and again at every
send by the backend, so a name re-pointed at an internal address later is refused then.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from django_push.backends.webhook_signing import generate_secret
from django_push.backends.webhook_urls import check_addresses, parse_private_hosts, resolve_sync, validate_url
from django_push.conf import DEFAULT_APPLICATION, push_settings
from django_push.devices.lifecycle import ACTIVE_FIELDS, deactivate
from django_push.exceptions import InvalidTarget
from django_push.models import Device, Platform, WebhookEndpoint
from django_push.results import DeliveryStatus, SendResult
from django_push.signals import webhook_endpoint_disabled

Resolver = Callable[[str, int], list[str]]


def validate_webhook_url(url: str, resolver: Resolver | None = None) -> str:
    """The normalized URL, or ValidationError saying why it may not be contacted (SSRF rules)."""
    try:
        normalized, host, port = validate_url(url)
        allowed = parse_private_hosts(push_settings.WEBHOOK_ALLOWED_PRIVATE_HOSTS)
        check_addresses(host, port, (resolver or resolve_sync)(host, port), allowed)
    except InvalidTarget as exc:
        raise ValidationError(str(exc), code="invalid_webhook_url") from exc
    return normalized


def validate_event_types(value: Any) -> list[str]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
        raise ValidationError(_('Event types are a list of notification type names, e.g. ["invoice.paid"].'))
    return sorted(set(value))


def create_endpoint(
    *,
    url: str,
    owner: Any = None,
    description: str = "",
    event_types: Sequence[str] = (),
    resolver: Resolver | None = None,
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint; returns it and its new secret (show it once: it is not shown again)."""
    normalized = validate_webhook_url(url, resolver)
    types = validate_event_types(list(event_types))
    owner = owner if owner is not None and getattr(owner, "is_authenticated", False) else None
    secret = generate_secret()
    try:
        with transaction.atomic():
            device = Device.objects.create(
                platform=Platform.WEBHOOK, application=DEFAULT_APPLICATION, address=normalized, owner=owner
            )
            endpoint = WebhookEndpoint.objects.create(
                device=device,
                owner=owner,
                url=normalized,
                description=description,
                event_types=types,
                secret=secret,
            )
    except IntegrityError as exc:
        raise ValidationError({"url": _("A webhook endpoint with this URL is already registered.")}) from exc
    return endpoint, secret


def update_endpoint(endpoint: WebhookEndpoint, *, resolver: Resolver | None = None, **values: Any) -> None:
    """Change url, description, event_types or active; the URL is checked like at registration."""
    if not values:
        return  # nothing to change: not even updated_at moves
    with transaction.atomic():
        if "url" in values:
            endpoint.url = validate_webhook_url(values.pop("url"), resolver)
            endpoint.device.address = endpoint.url
            try:
                with transaction.atomic():
                    endpoint.device.save(update_fields=["address"])
            except IntegrityError as exc:
                raise ValidationError(
                    {"url": _("A webhook endpoint with this URL is already registered.")}
                ) from exc
        if "event_types" in values:
            endpoint.event_types = validate_event_types(values.pop("event_types"))
        for field in ("description", "active"):
            if field in values:
                setattr(endpoint, field, values.pop(field))
        if values:
            raise TypeError(f"unknown endpoint field(s): {', '.join(sorted(values))}")
        endpoint.save()
        _sync_device(endpoint)


def delete_endpoints(endpoints: QuerySet[WebhookEndpoint]) -> int:
    """Delete endpoints with their devices (and so their delivery history): an endpoint row alone
    would leave a device nobody can sign for, holding the URL. Returns how many endpoints."""
    device_ids = list(endpoints.values_list("device_id", flat=True))
    Device.objects.filter(pk__in=device_ids, platform=Platform.WEBHOOK).delete()
    return len(device_ids)


def rotate_secret(
    endpoint: WebhookEndpoint, overlap: timedelta | None = None, now: datetime | None = None
) -> str:
    """A new secret; the current one stays valid for ``overlap`` (``WEBHOOK_SECRET_OVERLAP_SECONDS``),
    so deliveries carry both signatures until receivers switched. Returns the new secret."""
    now = now or timezone.now()
    if overlap is None:
        overlap = timedelta(seconds=float(push_settings.WEBHOOK_SECRET_OVERLAP_SECONDS))
    secret = generate_secret()
    endpoint.previous_secret, endpoint.secret = endpoint.secret, secret
    endpoint.previous_secret_expires_at = now + overlap
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"])
    return secret


def enable(endpoint: WebhookEndpoint) -> None:
    """Re-enable an endpoint (and its device) and forget its failures."""
    endpoint.active = True
    endpoint.disabled_at = None
    endpoint.disabled_reason = ""
    endpoint.consecutive_failures = 0
    endpoint.failing_since = None
    endpoint.save()
    _sync_device(endpoint)


def disable(endpoint: WebhookEndpoint, reason: str, now: datetime | None = None) -> None:
    """Disable an endpoint for ``reason`` and send ``webhook_endpoint_disabled``."""
    now = now or timezone.now()
    endpoint.disabled_at, endpoint.disabled_reason = now, reason[:255]
    endpoint.save(update_fields=["disabled_at", "disabled_reason", "updated_at"])
    deactivate(Device.objects.filter(pk=endpoint.device_id), f"webhook endpoint disabled: {reason}", now)
    webhook_endpoint_disabled.send(sender=WebhookEndpoint, endpoint=endpoint, reason=endpoint.disabled_reason)


def _sync_device(endpoint: WebhookEndpoint) -> None:
    devices = Device.objects.filter(pk=endpoint.device_id)
    if endpoint.active and endpoint.disabled_at is None:
        devices.update(**ACTIVE_FIELDS)
    else:
        deactivate(
            devices, "webhook endpoint switched off" if not endpoint.active else endpoint.disabled_reason
        )


def apply(outcomes: Sequence[tuple[Device, SendResult]], now: datetime | None = None) -> int:
    """Endpoint health after a batch of answers (dispatch calls it with every batch); returns how
    many endpoints were disabled.

    A success ends a failure run. Any other answer (a retryable one included: the receiver did not
    take it) extends it; an endpoint is disabled when its run reached ``WEBHOOK_DISABLE_AFTER_FAILURES``
    attempts *and* started ``WEBHOOK_DISABLE_AFTER_SECONDS`` ago (15 and 5 days: Svix's rule), so a
    short outage never disables it, nor does a long one with few events. A 410 Gone disables at once.
    """
    hooks = [(d, r) for d, r in outcomes if d.platform == Platform.WEBHOOK]
    if not hooks:
        return 0
    now = now or timezone.now()
    ok = [d.pk for d, r in hooks if r.status == DeliveryStatus.SENT]
    gone = [d.pk for d, r in hooks if r.status == DeliveryStatus.INVALID_TOKEN]
    failed = [d.pk for d, r in hooks if r.status not in (DeliveryStatus.SENT, DeliveryStatus.INVALID_TOKEN)]
    endpoints = WebhookEndpoint.objects
    if ok:
        endpoints.filter(device_id__in=ok).update(consecutive_failures=0, failing_since=None)
    if failed:
        endpoints.filter(device_id__in=failed, failing_since__isnull=True).update(failing_since=now)
        endpoints.filter(device_id__in=failed).update(consecutive_failures=F("consecutive_failures") + 1)
    disabled = 0
    for endpoint in endpoints.filter(device_id__in=gone, disabled_at__isnull=True):
        disable(endpoint, "the endpoint answered 410 Gone", now)
        disabled += 1
    cutoff = now - timedelta(seconds=float(push_settings.WEBHOOK_DISABLE_AFTER_SECONDS))
    threshold = int(push_settings.WEBHOOK_DISABLE_AFTER_FAILURES)
    for endpoint in endpoints.filter(
        device_id__in=failed,
        disabled_at__isnull=True,
        consecutive_failures__gte=threshold,
        failing_since__lte=cutoff,
    ):
        since = f"{endpoint.failing_since:%Y-%m-%d %H:%M} UTC"
        disable(endpoint, f"{endpoint.consecutive_failures} failed attempts in a row since {since}", now)
        disabled += 1
    return disabled
