from __future__ import annotations

from typing import Any

from rest_framework import serializers

from integrations.choices import AuthType, EventKind
from integrations.models import EventDelivery, EventSubscription, IntegratorWebhook
from ocpp_router.rpc import VERSIONS


def _strings(value: Any, field: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise serializers.ValidationError({field: "Expected a list of strings."})
    return value


class IntegratorWebhookSerializer(serializers.ModelSerializer):
    """Credentials are write-only: taken on create and update, never answered; `password_set`
    and `token_set` say whether one is stored."""

    password_set = serializers.SerializerMethodField()
    token_set = serializers.SerializerMethodField()

    class Meta:
        model = IntegratorWebhook
        fields = [
            "id",
            "name",
            "enabled",
            "url",
            "actions",
            "versions",
            "auth_type",
            "username",
            "password",
            "password_set",
            "token",
            "token_set",
            "timeout",
            "on_failure",
            "priority",
            "created",
            "updated",
        ]
        extra_kwargs = {"password": {"write_only": True}, "token": {"write_only": True}}

    def get_password_set(self, webhook: IntegratorWebhook) -> bool:
        return bool(webhook.password)

    def get_token_set(self, webhook: IntegratorWebhook) -> bool:
        return bool(webhook.token)

    def validate_actions(self, value: Any) -> list[str]:
        return _strings(value, "actions")

    def validate_versions(self, value: Any) -> list[str]:
        versions = _strings(value, "versions")
        unknown = sorted(set(versions) - set(VERSIONS))
        if unknown:
            raise serializers.ValidationError(f"Unknown OCPP versions: {', '.join(unknown)}")
        return versions

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        auth = attrs.get("auth_type", getattr(self.instance, "auth_type", AuthType.NONE))
        token = attrs.get("token", getattr(self.instance, "token", ""))
        username = attrs.get("username", getattr(self.instance, "username", ""))
        if auth == AuthType.BEARER and not token:
            raise serializers.ValidationError({"token": "Bearer auth needs a token."})
        if auth == AuthType.BASIC and not username:
            raise serializers.ValidationError({"username": "Basic auth needs a username."})
        return attrs


class EventSubscriptionSerializer(serializers.ModelSerializer):
    """The signing secret is write-only; `secret_set` says whether one is stored."""

    secret_set = serializers.SerializerMethodField()

    class Meta:
        model = EventSubscription
        fields = [
            "id",
            "name",
            "enabled",
            "url",
            "secret",
            "secret_set",
            "events",
            "ocpp_actions",
            "max_attempts",
            "timeout",
            "created",
            "updated",
        ]
        extra_kwargs = {"secret": {"write_only": True}}

    def get_secret_set(self, subscription: EventSubscription) -> bool:
        return bool(subscription.secret)

    def validate_events(self, value: Any) -> list[str]:
        kinds = _strings(value, "events")
        unknown = sorted(set(kinds) - set(EventKind.values))
        if unknown:
            raise serializers.ValidationError(f"Unknown events: {', '.join(unknown)}")
        return kinds

    def validate_ocpp_actions(self, value: Any) -> list[str]:
        return _strings(value, "ocpp_actions")


class EventDeliverySerializer(serializers.ModelSerializer):
    station_id = serializers.CharField(
        source="station", read_only=True, help_text="The station's OCPP identity (or empty)."
    )

    class Meta:
        model = EventDelivery
        fields = [
            "id",
            "subscription",
            "event",
            "station_id",
            "payload",
            "status",
            "attempts",
            "status_code",
            "error",
            "history",
            "created",
            "delivered_at",
        ]
        read_only_fields = fields
