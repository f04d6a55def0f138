"""Serializers of the device API, and :func:`register_device`, the one upsert every registration uses.

Registration is idempotent by (platform, application, address): the same token posted twice is one row.
The address is what identifies a device, so whoever posts it owns it ("the phone changed hands"), with
one exception: a Web Push endpoint is only taken over by a client that also knows the subscription's
auth secret. An endpoint is a URL that pages, scripts and proxies handle; without that proof, anyone who
saw one could re-key the subscription so that the real browser could no longer decrypt its messages.
"""

from __future__ import annotations

import contextlib
import hmac
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy
from rest_framework import serializers

from ..models import Device, Environment, Platform, Subscription, Topic
from . import validators

MAX_UPSERT_ATTEMPTS = 3
# Fields that describe the previous owner's phone, not the token: cleared when the token changes hands.
PERSONAL_FIELDS = ("name", "locale", "time_zone", "user_agent")


class EndpointKeysMismatch(Exception):
    """A Web Push endpoint is registered to someone else with another auth secret."""


def register_device(
    *, platform: str, application: str, address: str, owner: Any, values: dict[str, Any]
) -> tuple[Device, bool]:
    """Create or refresh the device at (platform, application, address); return ``(device, created)``.

    Safe under concurrency: a lost race on the unique constraint (an INSERT blocked by a concurrent
    one, then refused) rolls back to a savepoint and retries as an update, so N identical concurrent
    registrations make one row and exactly one ``created``. Re-registering re-activates the device.
    """
    now = timezone.now()
    owner = owner if owner is not None and owner.is_authenticated else None
    for _ in range(MAX_UPSERT_ATTEMPTS):
        with transaction.atomic():
            device = Device.objects.select_for_update().by_address(platform, application, address).first()
            if device is None:
                try:
                    with transaction.atomic():
                        device = Device.objects.create(
                            platform=platform,
                            application=application,
                            address=address,
                            owner=owner,
                            created_at=now,
                            registered_at=now,
                            last_seen_at=now,
                            **values,
                        )
                except IntegrityError:
                    continue  # a concurrent request created it first: update that row instead
                return device, True
            _refresh(device, owner, values, now)
            return device, False
    raise IntegrityError(f"could not register a {platform} device after {MAX_UPSERT_ATTEMPTS} attempts")


def _refresh(device: Device, owner: Any, values: dict[str, Any], now: datetime) -> None:
    owner_id = owner.pk if owner is not None else None
    same_owner = owner_id is not None and device.owner_id == owner_id
    if (
        device.platform == Platform.WEBPUSH
        and not same_owner
        and not _same_secret(device.auth, str(values.get("auth", "")))
    ):
        raise EndpointKeysMismatch
    if device.owner_id != owner_id:
        device.owner = owner
        for field in PERSONAL_FIELDS:
            setattr(device, field, "")
        Subscription.objects.filter(device=device).delete()
    for field, value in values.items():
        setattr(device, field, value)
    _reactivate(device, now)
    device.save()


def _reactivate(device: Device, now: datetime) -> None:
    """A registration is the app saying "this address works": forget past failures."""
    device.registered_at = device.last_seen_at = now
    device.active = True
    device.deactivated_at = None
    device.deactivation_reason = ""
    device.failure_count = 0
    device.last_failure_reason = ""


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
        choices=Platform.choices,
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

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        platform = attrs["platform"]
        errors: dict[str, Any] = {}

        def check(field: str, func: Any, *args: Any) -> Any:
            try:
                return func(*args)
            except serializers.ValidationError as exc:
                errors[field] = exc.detail
                return None

        check("application", validators.validate_application, platform, attrs["application"])
        token_validator = {
            Platform.APNS: validators.normalize_apns_token,
            Platform.FCM: validators.validate_fcm_token,
            Platform.WEBPUSH: validators.validate_webpush_endpoint,
        }[platform]
        attrs["token"] = check("token", token_validator, attrs["token"])
        if "environment" in attrs and platform != Platform.APNS:
            errors["environment"] = [gettext("Only APNs devices have an environment; leave it out.")]
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
        values = {
            k: data[k] for k in ("name", "locale", "time_zone", "environment", "p256dh", "auth") if k in data
        }
        agent = data.get("user_agent", user_agent[:512])
        if agent:  # a client that sends none keeps the one it sent last time
            values["user_agent"] = agent
        try:
            return register_device(
                platform=data["platform"],
                application=data["application"],
                address=data["token"],
                owner=owner,
                values=values,
            )
        except EndpointKeysMismatch:
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
        values = {k: data[k] for k in ("name", "locale", "time_zone") if k in data}
        values.update(data["keys"])
        if user_agent:
            values["user_agent"] = user_agent[:512]
        try:
            return register_device(
                platform=Platform.WEBPUSH,
                application=data["application"],
                address=data["endpoint"],
                owner=owner,
                values=values,
            )
        except EndpointKeysMismatch:
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
        auth = data.get("keys", {}).get("auth", "")
        user_id = user.pk if user is not None and user.is_authenticated else None
        doomed = [
            device.pk
            for device in _webpush_devices(data["endpoint"])
            if (user_id is not None and device.owner_id == user_id) or _same_secret(device.auth, auth)
        ]
        return Device.objects.filter(pk__in=doomed).delete()[0] if doomed else 0


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
        moved: Device | None = None
        for _ in range(MAX_UPSERT_ATTEMPTS):
            try:
                with transaction.atomic():
                    for device in _webpush_devices(old["endpoint"], lock=True):
                        if _same_secret(device.auth, old["keys"]["auth"]):
                            moved = _move(device, new["endpoint"], new["keys"])
                return moved
            except IntegrityError:
                continue  # the new endpoint was registered concurrently: run again, it now merges
        raise IntegrityError("could not move the Web Push subscription")


def _webpush_devices(endpoint: str, lock: bool = False) -> list[Device]:
    """Web Push devices (any application) at ``endpoint``, looked up by its normalized spelling."""
    from ..models import address_hash

    # An endpoint no longer allowed (the allow-list changed) is still ours to find and remove.
    with contextlib.suppress(serializers.ValidationError):
        endpoint = validators.validate_webpush_endpoint(endpoint)
    queryset = Device.objects.filter(platform=Platform.WEBPUSH, address_hash=address_hash(endpoint))
    return list(queryset.select_for_update() if lock else queryset)


def _same_secret(stored: str, offered: str) -> bool:
    return bool(stored and offered) and hmac.compare_digest(stored.encode(), offered.encode())


def _move(device: Device, endpoint: str, keys: dict[str, str]) -> Device:
    now = timezone.now()
    target = (
        Device.objects.select_for_update()
        .by_address(Platform.WEBPUSH, device.application, endpoint)
        .exclude(pk=device.pk)
        .first()
    )
    if target is not None:  # the browser already registered the new subscription: keep that row
        device.delete()
    else:
        target = device
        target.address = endpoint
    target.p256dh, target.auth = keys["p256dh"], keys["auth"]
    _reactivate(target, now)
    target.save()
    return target
