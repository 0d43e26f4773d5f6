"""Reads shared by the API, the admin and the handlers."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from stations.models import ChargingStation, Connector, Evse, OcppMessage


def station_by_identity(identity: str) -> ChargingStation | None:
    return ChargingStation.objects.filter(identity=identity).first()


def station_list() -> QuerySet[ChargingStation]:
    return ChargingStation.objects.prefetch_related(
        Prefetch("evses", queryset=Evse.objects.prefetch_related("connectors"))
    )


def connector_list() -> QuerySet[Connector]:
    return Connector.objects.select_related("evse__station")


def message_list() -> QuerySet[OcppMessage]:
    return OcppMessage.objects.select_related("station")
