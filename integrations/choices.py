from django.db import models


class AuthType(models.TextChoices):
    NONE = "none", "None"
    BASIC = "basic", "Basic (username and password)"
    BEARER = "bearer", "Bearer token"


class FailureMode(models.TextChoices):
    """What the station gets when the integrator times out or fails."""

    FALLBACK = "fallback", "Fall back to the CSMS's own handler"
    ERROR = "error", "Answer the station with a CALLERROR"


class EventKind(models.TextChoices):
    """The domain events of `csms.events` a subscription can receive."""

    STATION_CONNECTED = "station.connected"
    STATION_DISCONNECTED = "station.disconnected"
    STATION_BOOTED = "station.booted"
    STATION_STATUS_CHANGED = "station.status_changed"
    TRANSACTION_STARTED = "transaction.started"
    TRANSACTION_UPDATED = "transaction.updated"
    TRANSACTION_ENDED = "transaction.ended"
    SECURITY_EVENT = "security.event"
    OCPP_MESSAGE = "ocpp.message"
    DER_ALARM = "der.alarm", "DER alarm (OCPP 2.1 NotifyDERAlarm)"
    DER_STARTED = "der.started", "DER control started (OCPP 2.1 NotifyDERStartStop)"
    DER_STOPPED = "der.stopped", "DER control stopped (OCPP 2.1 NotifyDERStartStop)"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"
