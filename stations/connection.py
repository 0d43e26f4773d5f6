"""The connection gate: who may connect, and the online state in the database."""

from __future__ import annotations

import logging

from django.conf import settings

from ocpp_router.datetimes import utcnow
from ocpp_router.session import Handshake, Session
from stations import services

logger = logging.getLogger(__name__)


class StationGate:
    """Implements `ocpp_router.registry.ConnectionGate` for the stations app."""

    def admit(self, handshake: Handshake) -> Session | None:
        try:
            station = services.station_admit(
                identity=handshake.station_id,
                allow_unknown=settings.CSMS_ALLOW_UNKNOWN_STATIONS,
            )
        except services.StationRefused as refused:
            handshake.refuse(refused.status, refused.reason)
            return None
        return Session(
            station_pk=station.pk,
            station_id=station.identity,
            version=handshake.version,
            remote_address=handshake.remote_address,
            account=handshake.account,
            # Registration state lives in the database: a station accepted before and
            # reconnecting without a new BootNotification is served as Accepted.
            registration=station.registration_status,
        )

    def connected(self, session: Session) -> None:
        services.station_connect(
            station_pk=session.station_pk,
            protocol=session.version,
            remote_address=session.remote_address,
            channel_name=session.channel_name,
            account=session.account,
            at=session.connected_at or utcnow(),
        )

    def disconnected(self, session: Session) -> None:
        services.station_disconnect(
            station_pk=session.station_pk, channel_name=session.channel_name, at=utcnow()
        )

    def seen(self, session: Session) -> None:
        services.station_seen(station_pk=session.station_pk, at=utcnow())
