from django.db import models


class ProfileStatus(models.TextChoices):
    PENDING = "Pending", "sent, no answer yet"
    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    NOT_SUPPORTED = "NotSupported"
    CLEARED = "Cleared"
    REPORTED = "Reported", "reported by the station"


class ProfilePurpose(models.TextChoices):
    """1.6 ChargePointMaxProfile and 2.x ChargingStationMaxProfile are the same thing."""

    CHARGE_POINT_MAX = "ChargePointMaxProfile"
    CHARGING_STATION_MAX = "ChargingStationMaxProfile"
    EXTERNAL_CONSTRAINTS = "ChargingStationExternalConstraints"
    TX_DEFAULT = "TxDefaultProfile"
    TX = "TxProfile"
    PRIORITY_CHARGING = "PriorityCharging"
    LOCAL_GENERATION = "LocalGeneration"


class ProfileKind(models.TextChoices):
    ABSOLUTE = "Absolute"
    RECURRING = "Recurring"
    RELATIVE = "Relative"
    DYNAMIC = "Dynamic"


class LimitUnit(models.TextChoices):
    AMPERES = "A", "A per phase"
    WATTS = "W", "W"


class GrantStatus(models.TextChoices):
    PENDING = "Pending", "sent, no answer yet"
    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    FAILED = "Failed", "not delivered (offline, timeout, error)"


class DERControlStatus(models.TextChoices):
    """Where a DER control stands (OCPP 2.1 section R): the station's answers, or reported."""

    PENDING = "Pending", "sent, no answer yet"
    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    NOT_SUPPORTED = "NotSupported"
    SUPERSEDED = "Superseded"
    CLEARED = "Cleared"
    REPORTED = "Reported", "reported by the station"


class DEREventKind(models.TextChoices):
    ALARM = "alarm", "NotifyDERAlarm"
    STARTED = "started", "NotifyDERStartStop: started"
    STOPPED = "stopped", "NotifyDERStartStop: stopped"


class Origin(models.TextChoices):
    STATION = "station", "the station notified it"
    CSMS = "csms", "the CSMS sent it"
