from django.db import models


class OcppVersion(models.TextChoices):
    V16 = "1.6", "OCPP 1.6J"
    V201 = "2.0.1", "OCPP 2.0.1"
    V21 = "2.1", "OCPP 2.1"


class RegistrationStatus(models.TextChoices):
    ACCEPTED = "Accepted"
    PENDING = "Pending"
    REJECTED = "Rejected"


class ConnectorStatus(models.TextChoices):
    """Union of the 1.6 ChargePointStatus and the 2.x ConnectorStatusEnumType."""

    AVAILABLE = "Available"
    OCCUPIED = "Occupied"
    PREPARING = "Preparing"
    CHARGING = "Charging"
    SUSPENDED_EVSE = "SuspendedEVSE"
    SUSPENDED_EV = "SuspendedEV"
    FINISHING = "Finishing"
    RESERVED = "Reserved"
    UNAVAILABLE = "Unavailable"
    FAULTED = "Faulted"


class Direction(models.TextChoices):
    IN = "in", "station → CSMS"
    OUT = "out", "CSMS → station"


class MessageType(models.IntegerChoices):
    INVALID = 0, "invalid frame"
    CALL = 2, "CALL"
    CALLRESULT = 3, "CALLRESULT"
    CALLERROR = 4, "CALLERROR"
    CALLRESULTERROR = 5, "CALLRESULTERROR"
    SEND = 6, "SEND"


class EventSource(models.TextChoices):
    STATION = "station", "reported by the station"
    CSMS = "csms", "detected by the CSMS"
