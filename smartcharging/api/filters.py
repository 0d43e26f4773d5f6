from csms.api.stations import StationFilterSet
from smartcharging.models import (
    DERControl,
    DEREvent,
    DynamicScheduleUpdate,
    GridSignal,
    PriorityCharging,
)

# --- OCPP 2.1 ---------------------------------------------------------------------


class DERControlFilter(StationFilterSet):
    class Meta:
        model = DERControl
        fields = ["control_type", "status", "is_default", "active"]


class DEREventFilter(StationFilterSet):
    class Meta:
        model = DEREvent
        fields = ["kind", "control_type"]


class DynamicScheduleUpdateFilter(StationFilterSet):
    class Meta:
        model = DynamicScheduleUpdate
        fields = ["origin", "status"]


class PriorityChargingFilter(StationFilterSet):
    class Meta:
        model = PriorityCharging
        fields = ["origin", "activated"]


class GridSignalFilter(StationFilterSet):
    class Meta:
        model = GridSignal
        fields = ["action", "status"]
