"""Enumerations of the transactions block (values as spelled on the wire)."""

from django.db import models


class AuthorizationStatus(models.TextChoices):
    """Union of the 1.6 AuthorizationStatus and the 2.x AuthorizationStatusEnumType."""

    ACCEPTED = "Accepted"
    BLOCKED = "Blocked"
    CONCURRENT_TX = "ConcurrentTx"
    EXPIRED = "Expired"
    INVALID = "Invalid"
    NO_CREDIT = "NoCredit"
    NOT_ALLOWED_TYPE_EVSE = "NotAllowedTypeEVSE"
    NOT_AT_THIS_LOCATION = "NotAtThisLocation"
    NOT_AT_THIS_TIME = "NotAtThisTime"
    UNKNOWN = "Unknown"


# What an operator can set on a token; ConcurrentTx and Unknown are decided per request.
TOKEN_STATUSES = [
    choice
    for choice in AuthorizationStatus.choices
    if choice[0] not in {AuthorizationStatus.CONCURRENT_TX, AuthorizationStatus.UNKNOWN}
]

# OCPP 1.6 AuthorizationStatus has only these five values.
STATUSES_16 = frozenset({"Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx"})


class IdTokenType(models.TextChoices):
    """2.0.1 IdTokenEnumType (2.1 allows further strings; 1.6 idTags carry no type)."""

    CENTRAL = "Central"
    EMAID = "eMAID"
    ISO14443 = "ISO14443"
    ISO15693 = "ISO15693"
    KEY_CODE = "KeyCode"
    LOCAL = "Local"
    MAC_ADDRESS = "MacAddress"
    NO_AUTHORIZATION = "NoAuthorization"


class MessageFormat(models.TextChoices):
    ASCII = "ASCII"
    HTML = "HTML"
    URI = "URI"
    UTF8 = "UTF8"


class EventKind(models.TextChoices):
    """A transaction message as the station sent it."""

    STARTED = "Started", "2.x Started"
    UPDATED = "Updated", "2.x Updated"
    ENDED = "Ended", "2.x Ended"
    START_16 = "Start", "1.6 StartTransaction"
    STOP_16 = "Stop", "1.6 StopTransaction"
    METER_16 = "Meter16", "1.6 MeterValues"
    METER = "Meter", "2.x MeterValues"


class Anomaly(models.TextChoices):
    """What a transaction or one of its messages has that a clean session does not."""

    OFFLINE = "offline", "sent after an offline period"
    OUT_OF_ORDER = "out_of_order", "arrived after a later message"
    SEQ_GAP = "seq_gap", "sequence numbers missing"
    STARTED_MISSING = "started_missing", "no Started/StartTransaction received"
    NO_TRANSACTION_ID = "no_transaction_id", "1.6 transactionId -1"
    UNKNOWN_TRANSACTION = "unknown_transaction", "transaction id not known to the CSMS"
    UNKNOWN_RESERVATION = "unknown_reservation", "reservation id not known to the CSMS"
    EVENT_AFTER_END = "event_after_end", "message timestamped after the end"
    COST_MISMATCH = "cost_mismatch", "the station's cost differs from the CSMS's"
    # Ended by the CSMS, not by the station (transactions.ending).
    SUPERSEDED = "superseded", "ended by the CSMS: a newer transaction began on its connector"
    NOT_CONTINUED = "not_continued", "ended by the CSMS: not continued after the station rebooted"
    STALE = "stale", "ended by the CSMS: no message for CSMS_TRANSACTION_STALE_AFTER"
    REFUSED_NOT_STOPPED = "refused_not_stopped", "ended by the CSMS: start refused, never stopped"
    ENDED_BY_OPERATOR = "ended_by_operator", "ended by an operator"


class RequestStatus(models.TextChoices):
    """What became of a CSMS request to a station (remote start, reservation)."""

    PENDING = "Pending"
    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    FAULTED = "Faulted"
    OCCUPIED = "Occupied"
    UNAVAILABLE = "Unavailable"
    ERROR = "Error", "error or no answer"


class ReservationStatus(models.TextChoices):
    PENDING = "Pending"
    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    FAULTED = "Faulted"
    OCCUPIED = "Occupied"
    UNAVAILABLE = "Unavailable"
    ERROR = "Error", "error or no answer"
    CANCELLED = "Cancelled"
    USED = "Used", "used by a transaction"
    EXPIRED = "Expired"
    REMOVED = "Removed"
    NO_TRANSACTION = "NoTransaction"


# A reservation in one of these states still holds its EVSE.
RESERVATION_OPEN = (ReservationStatus.PENDING, ReservationStatus.ACCEPTED)

ENERGY_REGISTER = "Energy.Active.Import.Register"
