from rest_framework import viewsets

from csms.api.stations import StationFilterSet
from integrations import selectors
from integrations.api.serializers import (
    EventDeliverySerializer,
    EventSubscriptionSerializer,
    IntegratorWebhookSerializer,
)
from integrations.models import EventDelivery, EventSubscription, IntegratorWebhook


class EventDeliveryFilter(StationFilterSet):
    station_path = "station"  # the identity itself (deliveries outlive stations)

    class Meta:
        model = EventDelivery
        fields = ["subscription", "event", "status"]


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
    filterset_class = EventDeliveryFilter
    ordering_fields = ["created"]
