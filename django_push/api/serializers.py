"""Serializers of the device API: they validate, then call :mod:`django_push.devices.registration`,
where the registration rules (idempotent upsert, owner takeover, re-activation, the Web Push auth-secret
proof) live for every entry point."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext, gettext_lazy
from rest_framework import serializers

from django_push import validation
from django_push.api import validators
from django_push.conf import PUSH_PLATFORMS
from django_push.devices import registration
from django_push.models import Device, DeviceKind, Environment, Platform, PushManagerKind, Subscription, Topic

PUSH_MANAGER_CHOICES = [k for k in PushManagerKind.values if k]
PUSH_MANAGER_HELP = (
    "Web Push only: 'window' when the browser subscribed through window.pushManager (Safari 18.4+: it "
    "accepts declarative push messages), 'service_worker' through a service worker registration."
)


def push_manager_field() -> serializers.ChoiceField:
    return serializers.ChoiceField(
        choices=PUSH_MANAGER_CHOICES,
        required=False,
        help_text=PUSH_MANAGER_HELP,
        error_messages={
            "invalid_choice": gettext_lazy('"{input}" is not a push manager: use window or service_worker.')
        },
    )


class DeviceSerializer(serializers.ModelSerializer):
    """A device as its owner sees it. The token is never returned whole: it is a bearer credential for
    pushing to that phone, and responses end up in logs and browser caches."""

    id = serializers.UUIDField(source="public_id", read_only=True, help_text="Opaque id used in URLs.")
    masked_token = serializers.CharField(
        source="masked_address", read_only=True, help_text="The token or endpoint with its middle hidden."
    )

    class Meta:
        model = Device
        fields = [
            "id",
            "platform",
            "kind",
            "activity_type",
            "activity_id",
            "application",
            "masked_token",
            "name",
            "environment",
            "locale",
            "time_zone",
            "active",
            "created_at",
            "registered_at",
            "last_seen_at",
        ]
        read_only_fields = fields


class _DeviceDetailsMixin(serializers.Serializer):
    """Optional descriptive fields shared by every way of registering."""

    name = serializers.CharField(max_length=255, required=False, allow_blank=True)
    locale = serializers.CharField(max_length=validators.LOCALE_MAX_LENGTH, required=False, allow_blank=True)
    time_zone = serializers.CharField(
        max_length=validators.TIME_ZONE_MAX_LENGTH, required=False, allow_blank=True
    )

    def validate_locale(self, value: str) -> str:
        return validators.normalize_locale(value)

    def validate_time_zone(self, value: str) -> str:
        return validators.validate_time_zone(value)


class DeviceRegistrationSerializer(_DeviceDetailsMixin):
    """``POST devices/``: register (or refresh) an APNs/FCM token or a Web Push endpoint."""

    platform = serializers.ChoiceField(
        # Push platforms only: e-mail and SMS addresses come from the user, never from a client (a
        # client registering someone else's address would make us mail them).
        choices=[(value, label) for value, label in Platform.choices if value in PUSH_PLATFORMS],
        error_messages={
            "invalid_choice": gettext_lazy('"{input}" is not a platform: use apns, fcm or webpush.')
        },
    )
    application = serializers.CharField(max_length=100, default="default")
    token = serializers.CharField(
        max_length=4096, help_text="APNs device token, FCM registration token, or Web Push endpoint URL."
    )
    environment = serializers.ChoiceField(
        choices=Environment.choices, required=False, help_text="APNs only: which APNs host serves it."
    )
    user_agent = serializers.CharField(max_length=512, required=False, allow_blank=True)
    p256dh = serializers.CharField(max_length=200, required=False, help_text="Web Push only.")
    auth = serializers.CharField(max_length=100, required=False, help_text="Web Push only.")
    kind = serializers.ChoiceField(
        choices=DeviceKind.choices,
        default=DeviceKind.DEVICE,
        help_text="device (default), or an ActivityKit token: liveactivity_start (push-to-start, per "
        "install and activity type) or liveactivity_update (per running activity).",
    )
    activity_type = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        help_text="Live Activity tokens: ActivityAttributes type.",
    )
    activity_id = serializers.CharField(
        max_length=200, required=False, allow_blank=True, help_text="Update tokens: the activity's id."
    )
    installation = serializers.UUIDField(
        required=False,
        help_text="Live Activity tokens: the id of this app install's own device registration (yours).",
    )
    push_manager = push_manager_field()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        platform = attrs["platform"]
        errors: dict[str, Any] = {}
        kind = attrs.get("kind", DeviceKind.DEVICE)
        try:
            attrs.update(
                validation.validate_activity_kind(
                    platform, kind, attrs.get("activity_type", ""), attrs.get("activity_id", "")
                )
            )
        except DjangoValidationError as exc:
            errors.update(exc.message_dict)
        if "installation" in attrs:
            request = self.context.get("request")
            installation = (
                Device.objects.for_user(getattr(request, "user", None))
                .filter(public_id=attrs["installation"], kind=DeviceKind.DEVICE, platform=Platform.APNS)
                .first()
            )
            if kind == DeviceKind.DEVICE:
                errors["installation"] = [gettext("Only Live Activity tokens belong to an installation.")]
            elif installation is None:
                errors["installation"] = [gettext("No APNs device of yours has this id.")]
            attrs["installation"] = installation

        def check(field: str, func: Any, *args: Any) -> Any:
            try:
                return func(*args)
            except serializers.ValidationError as exc:
                errors[field] = exc.detail
                return None

        check("application", validators.validate_application, platform, attrs["application"])
        token_validator = {
            Platform.APNS: validators.normalize_apns_token
            if kind == DeviceKind.DEVICE
            else validators.normalize_activity_token,
            Platform.FCM: validators.validate_fcm_token,
            Platform.WEBPUSH: validators.validate_webpush_endpoint,
        }[platform]
        attrs["token"] = check("token", token_validator, attrs["token"])
        if "environment" in attrs and platform != Platform.APNS:
            errors["environment"] = [gettext("Only APNs devices have an environment; leave it out.")]
        if "push_manager" in attrs and platform != Platform.WEBPUSH:
            errors["push_manager"] = [gettext("Only Web Push devices have a push manager; leave it out.")]
        for key, func in (("p256dh", validators.validate_p256dh), ("auth", validators.validate_auth_secret)):
            if platform == Platform.WEBPUSH:
                if key not in attrs:
                    errors[key] = [
                        gettext(
                            "Web Push devices need the subscription's %(key)s (keys.%(key)s in toJSON())."
                        )
                        % {"key": key}
                    ]
                else:
                    attrs[key] = check(key, func, attrs[key])
            elif key in attrs:
                errors[key] = [
                    gettext("Leave %(key)s out: only Web Push devices have subscription keys.") % {"key": key}
                ]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def register(self, owner: Any, user_agent: str) -> tuple[Device, bool]:
        data = dict(self.validated_data)
        keys: tuple[str, ...] = (
            "name",
            "locale",
            "time_zone",
            "environment",
            "p256dh",
            "auth",
            "push_manager",
        )
        keys += ("kind", "activity_type", "activity_id", "installation")  # Live Activity tokens
        values = {k: data[k] for k in keys if k in data}
        agent = data.get("user_agent", user_agent[:512])
        if agent:  # a client that sends none keeps the one it sent last time
            values["user_agent"] = agent
        try:
            return registration.register(
                platform=data["platform"],
                application=data["application"],
                address=data["token"],
                owner=owner,
                values=values,
            )
        except registration.EndpointKeysMismatch:
            raise serializers.ValidationError(
                {"auth": [gettext("This endpoint is registered with another auth secret.")]}
            ) from None


class DeviceUpdateSerializer(_DeviceDetailsMixin):
    """``PATCH devices/{id}/``: the descriptive fields; the token itself is changed by registering."""

    environment = serializers.ChoiceField(choices=Environment.choices, required=False)

    def validate_environment(self, value: str) -> str:
        device = self.instance
        if device is not None and device.platform != Platform.APNS:
            raise serializers.ValidationError(gettext("Only APNs devices have an environment; leave it out."))
        return value

    def update(self, instance: Device, validated_data: dict[str, Any]) -> Device:
        for field, value in validated_data.items():
            setattr(instance, field, value)
        instance.save(update_fields=[*validated_data, "updated_at"])
        return instance


class TopicSerializer(serializers.ModelSerializer):
    class Meta:
        model = Topic
        fields = ["name", "description"]
        read_only_fields = fields


class DeviceTopicSerializer(serializers.ModelSerializer):
    """One topic a device receives; ``self_subscribe`` says whether the app may leave it."""

    topic = serializers.CharField(source="topic.name", read_only=True)
    description = serializers.CharField(source="topic.description", read_only=True)
    self_subscribe = serializers.BooleanField(source="topic.self_subscribe", read_only=True)
    subscribed_at = serializers.DateTimeField(source="created_at", read_only=True)

    class Meta:
        model = Subscription
        fields = ["topic", "description", "self_subscribe", "subscribed_at"]
        read_only_fields = fields


class TopicSubscribeSerializer(serializers.Serializer):
    topic = serializers.CharField(max_length=100, help_text="Name of a topic listed by GET topics/.")

    def validate_topic(self, value: str) -> Topic:
        topic = Topic.objects.filter(name=value).first()
        if topic is None:
            raise serializers.ValidationError(gettext("Unknown topic %(topic)s.") % {"topic": repr(value)})
        return topic


class WebPushKeysSerializer(serializers.Serializer):
    p256dh = serializers.CharField(max_length=200, help_text="The browser's P-256 public key (base64url).")
    auth = serializers.CharField(max_length=100, help_text="The subscription's auth secret (base64url).")

    def validate_p256dh(self, value: str) -> str:
        return validators.validate_p256dh(value)

    def validate_auth(self, value: str) -> str:
        return validators.validate_auth_secret(value)


class WebPushSubscriptionSerializer(_DeviceDetailsMixin):
    """``POST webpush/subscribe/``: the browser's ``PushSubscription.toJSON()``, as is, plus extras."""

    endpoint = serializers.CharField(max_length=4096, help_text="The push service URL of the subscription.")
    keys = WebPushKeysSerializer()
    expirationTime = serializers.FloatField(  # the browser's own spelling
        required=False, allow_null=True, min_value=0, help_text="Accepted and ignored."
    )
    application = serializers.CharField(max_length=100, default="default")
    push_manager = push_manager_field()

    def validate_endpoint(self, value: str) -> str:
        return validators.validate_webpush_endpoint(value)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        try:
            validators.validate_application(Platform.WEBPUSH, attrs["application"])
        except serializers.ValidationError as exc:
            raise serializers.ValidationError({"application": exc.detail}) from None
        return attrs

    def register(self, owner: Any, user_agent: str) -> tuple[Device, bool]:
        data = self.validated_data
        values = {k: data[k] for k in ("name", "locale", "time_zone", "push_manager") if k in data}
        values.update(data["keys"])
        if user_agent:
            values["user_agent"] = user_agent[:512]
        try:
            return registration.register(
                platform=Platform.WEBPUSH,
                application=data["application"],
                address=data["endpoint"],
                owner=owner,
                values=values,
            )
        except registration.EndpointKeysMismatch:
            raise serializers.ValidationError(
                {"keys": {"auth": [gettext("This endpoint is registered with another auth secret.")]}}
            ) from None


class WebPushProofKeysSerializer(serializers.Serializer):
    auth = serializers.CharField(max_length=100, help_text="The subscription's auth secret (base64url).")
    p256dh = serializers.CharField(max_length=200, required=False, help_text="Accepted and ignored.")

    def validate_auth(self, value: str) -> str:
        return validators.validate_auth_secret(value)


class WebPushUnsubscribeSerializer(serializers.Serializer):
    """``POST webpush/unsubscribe/``. Without a signed-in owner, the auth secret proves the caller is
    the browser that subscribed: the endpoint alone is not secret enough to let anyone unsubscribe."""

    endpoint = serializers.CharField(max_length=4096)
    keys = WebPushProofKeysSerializer(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        request = self.context.get("request")
        signed_in = request is not None and request.user.is_authenticated
        if not signed_in and "keys" not in attrs:
            raise serializers.ValidationError(
                {"keys": [gettext("Send the subscription's keys.auth to unsubscribe without signing in.")]}
            )
        return attrs

    def unsubscribe(self, user: Any) -> int:
        """Delete the matching devices the caller may remove; return how many went."""
        data = self.validated_data
        return registration.unsubscribe(
            endpoint=data["endpoint"], auth=data.get("keys", {}).get("auth", ""), user=user
        )


class WebPushOldSubscriptionSerializer(serializers.Serializer):
    endpoint = serializers.CharField(max_length=4096)
    keys = WebPushProofKeysSerializer()


class WebPushNewSubscriptionSerializer(serializers.Serializer):
    endpoint = serializers.CharField(max_length=4096)
    keys = WebPushKeysSerializer()
    expirationTime = serializers.FloatField(required=False, allow_null=True, min_value=0)

    def validate_endpoint(self, value: str) -> str:
        return validators.validate_webpush_endpoint(value)


class WebPushResubscribeSerializer(serializers.Serializer):
    """``POST webpush/resubscribe/``, sent by the service worker on ``pushsubscriptionchange``: the old
    subscription (endpoint and auth secret, the proof of ownership) and the new one."""

    old = WebPushOldSubscriptionSerializer()
    subscription = WebPushNewSubscriptionSerializer()

    def resubscribe(self) -> Device | None:
        """Move the device(s) of the old subscription to the new one, keeping owner and topics; None
        when no device matches the old endpoint and auth secret."""
        old, new = self.validated_data["old"], self.validated_data["subscription"]
        try:
            return registration.resubscribe(
                old_endpoint=old["endpoint"],
                old_auth=old["keys"]["auth"],
                new_endpoint=new["endpoint"],
                new_keys=new["keys"],
            )
        except registration.EndpointKeysMismatch:
            raise serializers.ValidationError(
                {
                    "subscription": {
                        "keys": {"auth": ["This endpoint is registered with another auth secret."]}
                    }
                }
            ) from None
