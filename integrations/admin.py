from django.contrib import admin
from django.db import models

from integrations.models import EventDelivery, EventSubscription, IntegratorWebhook


@admin.register(IntegratorWebhook)
class IntegratorWebhookAdmin(admin.ModelAdmin):
    # An endpoint typed without a scheme is taken as https.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ["name", "enabled", "url", "actions", "auth_type", "on_failure", "priority"]
    list_filter = ["enabled", "auth_type", "on_failure"]
    search_fields = ["name", "url"]


@admin.register(EventSubscription)
class EventSubscriptionAdmin(admin.ModelAdmin):
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ["name", "enabled", "url", "events", "max_attempts"]
    list_filter = ["enabled"]
    search_fields = ["name", "url"]


@admin.register(EventDelivery)
class EventDeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "created",
        "subscription",
        "event",
        "station",
        "status",
        "attempts",
        "status_code",
        "error",
    ]
    list_filter = ["status", "event", "subscription"]
    search_fields = ["station", "id"]
    readonly_fields = [
        "id",
        "subscription",
        "event",
        "station",
        "payload",
        "status",
        "attempts",
        "status_code",
        "error",
        "history",
        "created",
        "delivered_at",
        "next_attempt_at",
    ]

    def has_add_permission(self, request) -> bool:
        return False
