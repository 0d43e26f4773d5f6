from rest_framework import viewsets

from integrations import selectors
from integrations.api.serializers import (
    EventDeliverySerializer,
    EventSubscriptionSerializer,
    IntegratorWebhookSerializer,
)
from integrations.models import EventSubscription, IntegratorWebhook


class IntegratorWebhookViewSet(viewsets.ModelViewSet):
    """Integrator endpoints answering station calls in place of the CSMS."""

    queryset = IntegratorWebhook.objects.all()
    serializer_class = IntegratorWebhookSerializer
    filterset_fields = ["enabled", "auth_type", "on_failure"]
    ordering_fields = ["priority", "name", "created"]


class EventSubscriptionViewSet(viewsets.ModelViewSet):
    """Endpoints notified of domain events."""

    queryset = EventSubscription.objects.all()
    serializer_class = EventSubscriptionSerializer
    filterset_fields = ["enabled"]
    ordering_fields = ["name", "created"]


class EventDeliveryViewSet(viewsets.ReadOnlyModelViewSet):
    """The delivery log of event webhooks."""

    queryset = selectors.event_deliveries()
    serializer_class = EventDeliverySerializer
    filterset_fields = ["subscription", "event", "station", "status"]
    ordering_fields = ["created"]
