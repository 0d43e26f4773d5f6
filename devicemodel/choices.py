from django.db import models


class AttributeType(models.TextChoices):
    ACTUAL = "Actual"
    TARGET = "Target"
    MIN_SET = "MinSet"
    MAX_SET = "MaxSet"


class Mutability(models.TextChoices):
    READ_ONLY = "ReadOnly"
    WRITE_ONLY = "WriteOnly"
    READ_WRITE = "ReadWrite"


class DataType(models.TextChoices):
    STRING = "string"
    DECIMAL = "decimal"
    INTEGER = "integer"
    DATETIME = "dateTime"
    BOOLEAN = "boolean"
    OPTION_LIST = "OptionList"
    SEQUENCE_LIST = "SequenceList"
    MEMBER_LIST = "MemberList"


class VariableOperationKind(models.TextChoices):
    GET = "Get", "GetVariables"
    SET = "Set", "SetVariables"


class ReportKind(models.TextChoices):
    BASE_REPORT = "BaseReport", "GetBaseReport"
    REPORT = "Report", "GetReport"
    MONITORING_REPORT = "MonitoringReport", "GetMonitoringReport"
    DISPLAY_MESSAGES = "DisplayMessages", "GetDisplayMessages"
    CUSTOMER_INFORMATION = "CustomerInformation", "CustomerInformation"
    EVENTS = "Events", "NotifyEvent (station-initiated)"


class ReportStatus(models.TextChoices):
    REQUESTED = "Requested", "requested, no answer yet"
    ACCEPTED = "Accepted", "accepted, waiting for the report"
    RECEIVING = "Receiving", "parts arriving"
    COMPLETE = "Complete", "every part received"
    REJECTED = "Rejected"
    NOT_SUPPORTED = "NotSupported"
    EMPTY_RESULT_SET = "EmptyResultSet"
    UNKNOWN = "Unknown", "unknown to the station"
    INVALID = "Invalid", "invalid request (CustomerInformation)"


class MonitorType(models.TextChoices):
    UPPER_THRESHOLD = "UpperThreshold"
    LOWER_THRESHOLD = "LowerThreshold"
    DELTA = "Delta"
    PERIODIC = "Periodic"
    PERIODIC_CLOCK_ALIGNED = "PeriodicClockAligned"
    TARGET_DELTA = "TargetDelta"
    TARGET_DELTA_RELATIVE = "TargetDeltaRelative"


class DataTransferDirection(models.TextChoices):
    IN = "in", "station → CSMS"
    OUT = "out", "CSMS → station"


class DisplayMessageState(models.TextChoices):
    SET = "Set", "set on the station"
    CLEARED = "Cleared", "cleared"
    REJECTED = "Rejected", "refused by the station"
