"""``POST engagement/``: a device reports that a push was displayed, opened or clicked.

No login and no CSRF token (a service worker has neither): the signed delivery reference the push
carried is the credential (:mod:`django_push.dispatch.engagement`). Throttled per client address by
``DJANGO_PUSH["ENGAGEMENT_THROTTLE_RATE"]``. Answers: 200 with what was newly recorded (a repeat is
200 with nothing new), 400 for a malformed report, 403 for a forged or expired reference, 404 when
the delivery no longer exists. See docs/engagement.md for the iOS, Android and browser sides.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from django_push.api import schema as docs
from django_push.api.parsers import SizeLimitedJSONParser
from django_push.api.throttling import EngagementThrottle
from django_push.dispatch import engagement


class EngagementSerializer(serializers.Serializer):
    reference = serializers.CharField(
        max_length=512, help_text=_('The push\'s data["dp_ref"], exactly as received.')
    )
    event = serializers.ChoiceField(choices=engagement.EVENTS, help_text=_("displayed, opened or clicked"))


REFERENCE = "WyIzZjJjLi4uIiwiOGE5MS4uLiJd:1vQx2B:Xx7bq0fNq4lA2w9T0sQ1pN8e3rYkz0aJc6dVb5mWq9o"
_refusal = inline_serializer("EngagementRefusal", {"detail": serializers.CharField()})

engagement_schema = docs.document(
    post=extend_schema(
        tags=["engagement"],
        summary="Report that a push was displayed, opened or clicked (no login)",
        description=(
            "Send the push's `data.dp_ref` as `reference` with the `event`. The signed reference names one "
            "delivery and is the only credential; each event is recorded once (a click implies an open, "
            "an open a display). Throttled per client address (ENGAGEMENT_THROTTLE_RATE)."
        ),
        request=EngagementSerializer,
        responses={
            200: OpenApiResponse(
                inline_serializer(
                    "EngagementRecorded", {"recorded": serializers.ListField(child=serializers.CharField())}
                ),
                "Recorded: the events newly recorded (empty for a repeat).",
                examples=[
                    OpenApiExample("Recorded", {"recorded": ["displayed", "opened"]}, response_only=True)
                ],
            ),
            400: OpenApiResponse(
                OpenApiTypes.OBJECT,
                "Field errors.",
                examples=[
                    OpenApiExample(
                        "Bad event",
                        {"event": ['"liked" is not a valid choice.']},
                        response_only=True,
                        status_codes=["400"],
                    )
                ],
            ),
            403: OpenApiResponse(
                _refusal,
                "Forged or expired reference.",
                examples=[
                    OpenApiExample(
                        "Expired",
                        {"detail": "This delivery reference has expired."},
                        response_only=True,
                        status_codes=["403"],
                    )
                ],
            ),
            404: OpenApiResponse(_refusal, "The delivery no longer exists."),
            **docs.TOO_LARGE,
            **docs.THROTTLED,
        },
        examples=[OpenApiExample("Clicked", {"reference": REFERENCE, "event": "clicked"}, request_only=True)],
    ),
)


@engagement_schema
class EngagementView(APIView):
    authentication_classes: list[type] = []  # the reference is the credential; no session, no CSRF
    permission_classes = [AllowAny]
    throttle_classes = [EngagementThrottle]
    parser_classes = [SizeLimitedJSONParser]

    def post(self, request: Request) -> Response:
        serializer = EngagementSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            report = engagement.record(
                serializer.validated_data["reference"], serializer.validated_data["event"]
            )
        except engagement.EngagementRefused as exc:
            return Response({"detail": str(exc)}, status=exc.status)
        return Response({"recorded": list(report.recorded)})
