"""Forms of the push admin: the broadcast composer, the device change form and its "Send test push…"
action."""

from __future__ import annotations

import contextlib
import re
from typing import Any, cast

from django import forms
from django.contrib.admin import widgets
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from django_push import validation
from django_push.conf import DEFAULT_APPLICATION, PLATFORMS, PUSH_PLATFORMS, push_settings
from django_push.dispatch import audience as audience_mod
from django_push.dispatch import fcm_topic_send
from django_push.message import APNS_PUSH_TYPES, PRIORITIES, PushMessage
from django_push.models import Device, FCMDelivery, Platform, Topic

#: Audience keys the composer's own fields produce; the JSON field may add the others.
FIELD_KEYS = ("all", "users", "topics", "platforms", "applications")


class JSONObjectField(forms.JSONField):
    """A JSON object (``{...}``); empty input is ``{}``."""

    default_error_messages = {"not_object": _('Enter a JSON object, e.g. {"key": "value"}.')}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault(
            "widget", widgets.AdminTextareaWidget(attrs={"rows": 3, "class": "vLargeTextField"})
        )
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        return "" if value is None or value == {} else super().prepare_value(value)

    def to_python(self, value: Any) -> Any:
        value = super().to_python(value)
        if value in (None, ""):
            return {}
        if not isinstance(value, dict):
            raise ValidationError(self.error_messages["not_object"], code="not_object")
        return value


class DeviceAdminForm(forms.ModelForm):
    """The device change form: locale and time zone checked and normalized as the API does
    (:mod:`django_push.validation`), so the admin cannot store what a registration would refuse."""

    class Meta:
        model = Device
        fields = ("locale", "time_zone")  # DeviceAdmin's fieldsets choose the fields it shows

    def clean_locale(self) -> str:
        return validation.normalize_locale(self.cleaned_data.get("locale") or "")

    def clean_time_zone(self) -> str:
        return validation.validate_time_zone(self.cleaned_data.get("time_zone") or "")


class MessageFieldsMixin(forms.Form):
    title = forms.CharField(
        label=_("Title"), max_length=255, required=False, widget=widgets.AdminTextInputWidget()
    )
    body = forms.CharField(
        label=_("Body"),
        required=False,
        widget=widgets.AdminTextareaWidget(attrs={"rows": 3}),
    )
    # A form field named "data" is fine at runtime (the metaclass moves fields off the class).
    data = JSONObjectField(  # type: ignore[assignment]
        label=_("Data"), help_text=_("Custom key/value data for the app, as a JSON object.")
    )

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if not (cleaned.get("title") or cleaned.get("body") or cleaned.get("data")) and (
            cleaned.get("push_type", "alert") != "background"
        ):
            raise ValidationError(_("A notification needs a title, a body or data."), code="empty_message")
        return cleaned


class TestPushForm(MessageFieldsMixin):
    """The intermediate form of the device admin's "Send test push…" action."""

    def message(self) -> PushMessage:
        d = self.cleaned_data
        return PushMessage(title=d["title"], body=d["body"], data=d["data"])


class BroadcastForm(MessageFieldsMixin):
    """Everything the composer sends: message, audience and when. Valid data builds both."""

    priority = forms.ChoiceField(label=_("Priority"), choices=[(p, p) for p in PRIORITIES], initial="normal")
    ttl = forms.IntegerField(
        label=_("Time to live (s)"),
        required=False,
        min_value=0,
        widget=widgets.AdminIntegerFieldWidget(),
        help_text=_("How long a service keeps an undelivered push. Empty: the service's default."),
    )
    collapse_key = forms.CharField(
        label=_("Collapse key"),
        max_length=64,
        required=False,
        widget=widgets.AdminTextInputWidget(),
        help_text=_("A newer push with the same key replaces an undelivered older one."),
    )
    push_type = forms.ChoiceField(
        label=_("Push type"), choices=[(t, t) for t in APNS_PUSH_TYPES], initial="alert"
    )
    overrides = JSONObjectField(
        label=_("Per-platform overrides"),
        help_text=_('Merged into each platform\'s payload last, e.g. {"apns": {"aps": {"badge": 1}}}.'),
    )
    everyone = forms.BooleanField(label=_("Everyone"), required=False, help_text=_("Every active device."))
    topics = forms.ModelMultipleChoiceField(
        label=_("Topics"),
        queryset=Topic.objects.all(),
        to_field_name="name",
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
        help_text=_("Devices subscribed to any of these topics."),
    )
    users = forms.CharField(
        label=_("Users"),
        required=False,
        widget=widgets.AdminTextInputWidget(),
        help_text=_("Usernames or user ids, separated by commas or spaces."),
    )
    platforms = forms.MultipleChoiceField(
        label=_("Only platforms"),
        # The broadcast composer previews push payloads; channels are routed by notification type.
        choices=[(value, label) for value, label in Platform.choices if value in PUSH_PLATFORMS],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Leave empty for every platform."),
    )
    applications = forms.MultipleChoiceField(
        label=_("Only applications"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Leave empty for every application."),
    )
    audience_json = JSONObjectField(
        label=_("Audience (JSON)"),
        help_text=_(
            'Advanced: an audience spec combined with the choices above, e.g. {"locales": ["fr-FR"]} or '
            '{"devices": [1, 2]}. A key may not be given both here and above.'
        ),
    )
    fcm_delivery = forms.ChoiceField(
        label=_("FCM devices of the topics"),
        choices=FCMDelivery.choices,
        initial=FCMDelivery.PER_DEVICE,
        required=False,  # empty: per device
        widget=forms.RadioSelect,
        help_text=_(
            "Per device (default): one send per device, each with its delivery record, retries, token "
            "cleanup, per-device rendering and filters. One FCM topic send: FCM fans it out itself, one "
            "request whatever the audience size, but there is no per-device record and every FCM device "
            "of the topics gets the same message (needs FCM_TOPIC_SYNC and a topics-only audience). "
            "Other platforms are sent per device either way."
        ),
    )
    scheduled_at = forms.DateTimeField(
        label=_("Send at"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("Leave empty to send now."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        names = {DEFAULT_APPLICATION, *push_settings.APPLICATIONS}
        cast(forms.MultipleChoiceField, self.fields["applications"]).choices = [(n, n) for n in sorted(names)]
        self.fields["scheduled_at"].help_text = _("Leave empty to send now. Time zone: %(tz)s.") % {
            "tz": timezone.get_current_timezone_name()
        }

    def clean_users(self) -> list[int]:
        tokens = [t for t in re.split(r"[\s,;]+", self.cleaned_data["users"]) if t]
        if not tokens:
            return []
        User = get_user_model()
        ids = {int(t) for t in tokens if t.isdigit()}
        names = {t for t in tokens if not t.isdigit()}
        found_ids = set(User._default_manager.filter(pk__in=ids).values_list("pk", flat=True))
        by_name = dict(
            User._default_manager.filter(**{f"{User.USERNAME_FIELD}__in": names}).values_list(
                User.USERNAME_FIELD, "pk"
            )
        )
        unknown = sorted({str(i) for i in ids - found_ids} | (names - set(by_name)))
        if unknown:
            raise ValidationError(
                _("No user with this username or id: %(users)s."), params={"users": ", ".join(unknown)}
            )
        return sorted(found_ids | set(by_name.values()))

    def clean_overrides(self) -> dict[str, Any]:
        overrides = self.cleaned_data["overrides"]
        unknown = sorted(set(overrides) - set(PLATFORMS))
        if unknown:
            raise ValidationError(
                _("Unknown platform(s) %(bad)s; use %(good)s."),
                params={"bad": ", ".join(unknown), "good": ", ".join(PLATFORMS)},
            )
        if not all(isinstance(v, dict) for v in overrides.values()):
            raise ValidationError(_("Each platform's overrides must be a JSON object."))
        return overrides

    def clean_scheduled_at(self) -> Any:
        value = self.cleaned_data["scheduled_at"]
        if value is not None and value <= timezone.now():
            raise ValidationError(_("Choose a time in the future, or leave it empty to send now."))
        return value

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        with contextlib.suppress(KeyError, ValueError):  # the field errors already say what is wrong
            cleaned["message"] = self._message(cleaned)
        spec = dict(cleaned.get("audience_json") or {})
        mine: dict[str, Any] = {}
        if cleaned.get("everyone"):
            mine["all"] = True
        for key in ("users", "platforms", "applications"):
            if cleaned.get(key):
                mine[key] = list(cleaned[key])
        if cleaned.get("topics"):
            mine["topics"] = sorted(t.name for t in cleaned["topics"])
        both = sorted(set(mine) & set(spec))
        if both:
            self.add_error(
                "audience_json",
                _("Give %(keys)s either in the fields above or in the JSON, not both.")
                % {"keys": ", ".join(both)},
            )
            return cleaned
        spec.update(mine)
        if "audience_json" in self.errors or "users" in self.errors:
            return cleaned
        try:
            audience_mod.validate(spec)
        except ValidationError as exc:
            self.add_error("audience_json", exc)
            return cleaned
        if not any(spec.get(key) for key in audience_mod.SELECTORS):
            raise ValidationError(
                _("Choose who receives it: everyone, topics, users, or devices in the audience JSON."),
                code="empty_audience",
            )
        if cleaned.get("fcm_delivery") == FCMDelivery.FCM_TOPIC:
            try:
                fcm_topic_send.validate(spec)
            except ValidationError as exc:
                self.add_error("fcm_delivery", exc)
                return cleaned
        cleaned["audience"] = spec
        return cleaned

    @staticmethod
    def _message(d: dict[str, Any]) -> PushMessage:
        return PushMessage(
            title=d["title"],
            body=d["body"],
            data=d["data"],
            priority=d["priority"],
            ttl=d["ttl"],
            collapse_key=d["collapse_key"],
            push_type=d["push_type"],
            overrides=d["overrides"],
        )

    @property
    def fieldsets(self) -> list[tuple[Any, dict[str, Any]]]:
        return [
            (_("Message"), {"fields": ["title", "body", "data"]}),
            (
                _("Delivery"),
                {"fields": ["priority", "ttl", "collapse_key", "push_type", "overrides"]},
            ),
            (
                _("Audience"),
                {
                    "fields": [
                        "everyone",
                        "topics",
                        "users",
                        "platforms",
                        "applications",
                        "audience_json",
                        "fcm_delivery",
                    ]
                },
            ),
            (_("When"), {"fields": ["scheduled_at"]}),
        ]
