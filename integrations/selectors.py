"""Reads of webhook settings and the delivery log."""

from __future__ import annotations

from django.db.models import QuerySet

from integrations.models import EventDelivery, EventSubscription, IntegratorWebhook


def integrator_webhooks_enabled() -> QuerySet[IntegratorWebhook]:
    return IntegratorWebhook.objects.filter(enabled=True).order_by("priority", "name")


def event_subscriptions_enabled() -> QuerySet[EventSubscription]:
    return EventSubscription.objects.filter(enabled=True).order_by("pk")


def event_deliveries() -> QuerySet[EventDelivery]:
    return EventDelivery.objects.select_related("subscription")
