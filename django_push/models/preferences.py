"""Per-user notification preferences: channels per notification type, and quiet hours.

No row means the default: every channel of the type is on, and no quiet hours. Imported at the end
of ``django_push.models`` so the models belong to the app (and its migrations).
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime, time, timedelta, tzinfo
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

__all__ = ["PREFERENCE_CHANNELS", "NotificationPreference", "QuietHours", "validate_time_zone"]

#: The channels a user can switch per notification type: each is a boolean column below.
PREFERENCE_CHANNELS: tuple[str, ...] = ("push", "in_app", "email", "sms", "webhook")


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate_time_zone(value: str) -> None:
    if value and value not in _zone_names():
        raise ValidationError(_("%(value)s is not an IANA time zone name."), params={"value": value})


def zone(name: str | None) -> tzinfo | None:
    """The ZoneInfo for ``name``, or None when it is empty or unknown."""
    if not name or name not in _zone_names():
        return None
    return zoneinfo.ZoneInfo(name)


class NotificationPreference(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="push_preferences",
    )
    notification_type = models.CharField(_("notification type"), max_length=64)
    push = models.BooleanField(_("push"), default=True, help_text=_("Send it to the user's devices."))
    in_app = models.BooleanField(_("in-app"), default=True, help_text=_("Keep it in the user's inbox."))
    email = models.BooleanField(_("e-mail"), default=True, help_text=_("Send it by e-mail."))
    sms = models.BooleanField(_("SMS"), default=True, help_text=_("Send it by text message."))
    webhook = models.BooleanField(
        _("webhook"), default=True, help_text=_("Post it to the user's webhook endpoints.")
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        app_label = "django_push"
        verbose_name = _("notification preference")
        verbose_name_plural = _("notification preferences")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "notification_type"], name="django_push_preference_unique"
            ),
        ]

    def __str__(self) -> str:
        on = ",".join(c for c in PREFERENCE_CHANNELS if getattr(self, c)) or "none"
        return f"{self.user_id} {self.notification_type}: {on}"


class QuietHours(models.Model):
    """A daily window, in the user's local time, when non-critical pushes wait (``start`` to
    ``end``; a window past midnight such as 22:00–07:00 works)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="push_quiet_hours",
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    start = models.TimeField(_("start"), help_text=_("Local time the quiet window starts, e.g. 22:00."))
    end = models.TimeField(_("end"), help_text=_("Local time it ends, e.g. 07:00."))
    time_zone = models.CharField(
        _("time zone"),
        max_length=64,
        blank=True,
        validators=[validate_time_zone],
        help_text=_("IANA name; empty: each device's own time zone (else the site's)."),
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        app_label = "django_push"
        verbose_name = _("quiet hours")
        verbose_name_plural = _("quiet hours")

    def __str__(self) -> str:
        return f"{self.user_id}: {self.start:%H:%M}–{self.end:%H:%M} {self.time_zone}".strip()

    def window_end(self, now: datetime, tz: tzinfo) -> datetime | None:
        """When the quiet window that contains ``now`` ends (aware), or None when ``now`` is outside."""
        return quiet_window_end(self.start, self.end, now, tz) if self.enabled else None


def quiet_window_end(start: time, end: time, now: datetime, tz: tzinfo) -> datetime | None:
    """The end of the ``start``–``end`` window (local times in ``tz``) containing ``now``, or None."""
    if start == end:
        return None
    local = now.astimezone(tz)
    t = local.time().replace(tzinfo=None)
    if start < end:
        inside, end_day = start <= t < end, local.date()
    else:  # crosses midnight
        inside = t >= start or t < end
        end_day = local.date() + timedelta(days=1) if t >= start else local.date()
    if not inside:
        return None
    # Wall-clock end; zoneinfo resolves a time skipped or repeated by DST to a real instant.
    return datetime.combine(end_day, end, tzinfo=tz)
