"""The caller's notification preferences: channels per notification type, and quiet hours.

``GET preferences/`` lists every type the site declares with the caller's effective choices (no row
means on); ``PATCH``/``PUT preferences/<type>/`` changes them. A *required* type cannot be turned
off: the API answers 400 saying so. ``preferences/quiet-hours/`` reads, sets or removes the
caller's quiet hours.
"""

from __future__ import annotations

import re
from typing import Any

from django.http import Http404
from django.utils.translation import gettext
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from django_push.api import schema as docs
from django_push.api.inbox import OwnerScopedMixin, caller
from django_push.compose import types as notification_types
from django_push.compose.types import CHANNELS, NotificationType
from django_push.models.preferences import PREFERENCE_CHANNELS, NotificationPreference, QuietHours


class PreferenceSerializer(serializers.Serializer):
    type = serializers.CharField(read_only=True)
    label = serializers.CharField(read_only=True)  # type: ignore[assignment]
    description = serializers.CharField(read_only=True)
    required = serializers.BooleanField(  # type: ignore[assignment]
        read_only=True, help_text="Cannot be turned off."
    )
    channels = serializers.ListField(
        child=serializers.ChoiceField(choices=CHANNELS), read_only=True, help_text="Channels the type uses."
    )
    push = serializers.BooleanField(required=False)
    in_app = serializers.BooleanField(required=False)
    email = serializers.BooleanField(required=False)
    sms = serializers.BooleanField(required=False)
    webhook = serializers.BooleanField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        kind: NotificationType = self.context["kind"]
        data = self.initial_data if isinstance(self.initial_data, dict) else {}
        read_only = {"type", "label", "description", "required", "channels"}
        unknown = sorted(str(k) for k in data if k not in PREFERENCE_CHANNELS and k not in read_only)
        if unknown:  # a typo ("e-mail") must not look like a change that was saved
            raise serializers.ValidationError(
                {
                    key: [
                        gettext("Unknown channel %(channel)s; use one of %(channels)s.")
                        % {"channel": repr(key), "channels": ", ".join(PREFERENCE_CHANNELS)}
                    ]
                    for key in unknown
                }
            )
        if kind.required:
            errors = {
                channel: [
                    gettext("%(type)s notifications are required and cannot be turned off.")
                    % {"type": kind.name}
                ]
                for channel in PREFERENCE_CHANNELS
                if attrs.get(channel) is False
            }
            if errors:
                raise serializers.ValidationError(errors)
        return attrs


def represent(kind: NotificationType, preference: NotificationPreference | None) -> dict[str, Any]:
    """The type with the caller's choice per channel: on unless turned off, and only for channels
    the type sends on (itself, or through an escalation or digest rule)."""
    used = {*kind.channels, *(r.to for r in kind.escalations), *(d.channel for d in kind.digests)}
    on = dict.fromkeys(PREFERENCE_CHANNELS, True)
    if preference is not None and not kind.required:
        on = {c: getattr(preference, c) for c in PREFERENCE_CHANNELS}
    return {
        "type": kind.name,
        "label": str(kind.label),
        "description": str(kind.description),
        "required": kind.required,
        "channels": list(kind.channels),
        **{c: on[c] and c in used for c in PREFERENCE_CHANNELS},
    }


PREFERENCE = {
    "type": "like",
    "label": "Likes",
    "description": "",
    "required": False,
    "channels": ["push", "in_app"],
    "push": False,
    "in_app": True,
    "email": False,
    "sms": False,
    "webhook": False,
}
TYPE_PATTERN = r"[A-Za-z0-9_-]+"  # the URL's lookup regex and the documented pattern, kept as one
TYPE = OpenApiParameter(
    "notification_type",
    str,
    OpenApiParameter.PATH,
    description="Notification type name, e.g. like.",
    pattern=f"^{TYPE_PATTERN}$",
)
UNKNOWN_TYPE = {
    404: OpenApiResponse(
        OpenApiTypes.OBJECT,
        "Unknown notification type.",
        examples=[OpenApiExample("Unknown", {"detail": "Unknown notification type 'likes'."})],
    )
}
REQUIRED = OpenApiResponse(
    OpenApiTypes.OBJECT,
    "A required type cannot be turned off (or a field is invalid).",
    examples=[
        OpenApiExample(
            "Required", {"push": ["security_alert notifications are required and cannot be turned off."]}
        )
    ],
)
_update = extend_schema(
    tags=["preferences"],
    summary="Change my preference for one type",
    parameters=[TYPE],
    request=PreferenceSerializer,
    responses={200: PreferenceSerializer, 400: REQUIRED, **docs.DENIED, **UNKNOWN_TYPE, **docs.TOO_LARGE},
    examples=[
        OpenApiExample("Mute likes", {"push": False}, request_only=True),
        OpenApiExample("Preference", PREFERENCE, response_only=True),
    ],
)


@docs.document(
    list=extend_schema(
        tags=["preferences"],
        summary="List my notification preferences",
        description="Every notification type with my choice per channel (on unless turned off).",
        responses={200: PreferenceSerializer(many=True), **docs.DENIED},
        examples=[OpenApiExample("Preferences", [PREFERENCE], response_only=True)],
    ),
    retrieve=extend_schema(
        tags=["preferences"],
        summary="Show my preference for one type",
        parameters=[TYPE],
        responses={200: PreferenceSerializer, **docs.DENIED, **UNKNOWN_TYPE},
        examples=[OpenApiExample("Preference", PREFERENCE, response_only=True)],
    ),
    partial_update=_update,
    update=_update,
)
class PreferenceViewSet(OwnerScopedMixin, viewsets.ViewSet):
    lookup_field = "notification_type"
    lookup_value_regex = TYPE_PATTERN
    serializer_class = PreferenceSerializer

    def list(self, request: Request) -> Response:
        mine = {p.notification_type: p for p in NotificationPreference.objects.filter(user=caller(request))}
        return Response([represent(k, mine.get(k.name)) for k in notification_types.all_types().values()])

    def retrieve(self, request: Request, notification_type: str) -> Response:
        kind = self._kind(notification_type)
        preference = NotificationPreference.objects.filter(user=caller(request), notification_type=kind.name)
        return Response(represent(kind, preference.first()))

    def partial_update(self, request: Request, notification_type: str) -> Response:
        kind = self._kind(notification_type)
        serializer = PreferenceSerializer(data=request.data, context={"kind": kind})
        serializer.is_valid(raise_exception=True)
        choices = {k: v for k, v in serializer.validated_data.items() if k in PREFERENCE_CHANNELS}
        if not choices:  # nothing to change: no row either
            return self.retrieve(request, notification_type)
        preference, _ = NotificationPreference.objects.get_or_create(
            user=caller(request), notification_type=kind.name
        )
        for key, value in choices.items():
            setattr(preference, key, value)
        preference.save(update_fields=[*choices, "updated_at"])
        return Response(represent(kind, preference))

    def update(self, request: Request, notification_type: str) -> Response:
        return self.partial_update(request, notification_type)

    def _kind(self, name: str) -> NotificationType:
        kind = notification_types.lookup(name)
        if kind is None:
            raise Http404(gettext("Unknown notification type %(type)s.") % {"type": repr(name)})
        return kind


_OFFSET = re.compile(r"(?:[zZ]|[+-]\d{2}(?::?\d{2})?)\s*$")


@extend_schema_field(
    {
        "type": "string",
        "pattern": r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?$",
        "example": "22:00",
        "description": "Local wall-clock time, HH:MM or HH:MM:SS, no offset.",
    }
)
class LocalTimeField(serializers.TimeField):
    """A wall-clock time in the user's zone; OpenAPI's ``format: time`` would demand an offset.

    A time given with an offset (``22:00+02:00``, ``22:00Z``) is refused: Django's time parser would
    drop the offset silently, and the zone belongs in ``time_zone`` anyway."""

    default_error_messages = {
        "offset": (
            "Give a local time without an offset, e.g. 22:00; "
            "say which zone in the time_zone field (e.g. Europe/Paris)."
        )
    }

    def to_internal_value(self, value: Any) -> Any:
        if isinstance(value, str) and _OFFSET.search(value):
            self.fail("offset")
        parsed = super().to_internal_value(value)
        if parsed.tzinfo is not None:
            self.fail("invalid", format="HH:MM[:SS] (a local time, without an offset)")
        return parsed


class QuietHoursSerializer(serializers.ModelSerializer):
    start = LocalTimeField(help_text="Local time the quiet window starts, e.g. 22:00.")
    end = LocalTimeField(help_text="Local time it ends, e.g. 07:00.")

    class Meta:
        model = QuietHours
        fields = ["enabled", "start", "end", "time_zone"]
        extra_kwargs = {"time_zone": {"required": False}, "enabled": {"required": False}}

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start = attrs.get("start", getattr(self.instance, "start", None))
        end = attrs.get("end", getattr(self.instance, "end", None))
        if start is not None and start == end:
            raise serializers.ValidationError({"end": [gettext("The quiet hours must end at another time.")]})
        return attrs


QUIET = {"enabled": True, "start": "22:00:00", "end": "07:00:00", "time_zone": "Europe/Paris"}


@docs.document(
    get=extend_schema(
        tags=["preferences"],
        summary="Show my quiet hours",
        responses={
            200: QuietHoursSerializer,
            404: OpenApiResponse(
                OpenApiTypes.OBJECT,
                "No quiet hours set.",
                examples=[OpenApiExample("None", {"detail": "No quiet hours set."})],
            ),
            **docs.DENIED,
        },
        examples=[OpenApiExample("Quiet hours", QUIET, response_only=True)],
    ),
    put=extend_schema(
        tags=["preferences"],
        summary="Set my quiet hours",
        description=(
            "Non-critical pushes that come inside the window wait until it ends (never dropped). "
            "time_zone empty: each device's own time zone."
        ),
        request=QuietHoursSerializer,
        responses={
            200: QuietHoursSerializer,
            400: OpenApiResponse(
                OpenApiTypes.OBJECT,
                "Field errors.",
                examples=[
                    OpenApiExample("Invalid", {"time_zone": ["Mars/Olympus is not an IANA time zone."]})
                ],
            ),
            **docs.DENIED,
            **docs.TOO_LARGE,
        },
        examples=[
            OpenApiExample("Nights", QUIET, request_only=True),
            OpenApiExample("Quiet hours", QUIET, response_only=True),
        ],
    ),
    delete=extend_schema(
        tags=["preferences"],
        summary="Remove my quiet hours",
        responses={204: OpenApiResponse(description="Removed."), **docs.DENIED},
    ),
)
class QuietHoursView(OwnerScopedMixin, APIView):
    def get(self, request: Request) -> Response:
        quiet = QuietHours.objects.filter(user=caller(request)).first()
        if quiet is None:
            raise Http404(gettext("No quiet hours set."))
        return Response(QuietHoursSerializer(quiet).data)

    def put(self, request: Request) -> Response:
        quiet = QuietHours.objects.filter(user=caller(request)).first()
        serializer = QuietHoursSerializer(quiet, data=request.data)
        serializer.is_valid(raise_exception=True)
        serializer.save(user=caller(request))
        return Response(serializer.data)

    def delete(self, request: Request) -> Response:
        QuietHours.objects.filter(user=caller(request)).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)
