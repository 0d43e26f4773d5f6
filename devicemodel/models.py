"""A station's device model (2.x), configuration keys (1.6), monitoring, events, reports,
display messages and DataTransfer records."""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Coalesce

from devicemodel.choices import (
    AttributeType,
    DataTransferDirection,
    DataType,
    DisplayMessageState,
    MonitorType,
    Mutability,
    ReportKind,
    ReportStatus,
    VariableOperationKind,
)
from stations.models import ChargingStation


class Component(models.Model):
    """A component of a station's device model (OCPP 2.x ComponentType)."""

    station = models.ForeignKey(
        ChargingStation, on_delete=models.CASCADE, related_name="components"
    )
    name = models.CharField(max_length=50)
    instance = models.CharField(max_length=50, blank=True)
    evse_id = models.PositiveIntegerField(null=True, blank=True)
    connector_id = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["station", "name", "instance", "evse_id", "connector_id"]
        constraints = [
            models.UniqueConstraint(
                "station",
                "name",
                "instance",
                Coalesce("evse_id", models.Value(-1)),
                Coalesce("connector_id", models.Value(-1)),
                name="unique_component_per_station",
            )
        ]

    def __str__(self) -> str:
        text = self.name + (f"[{self.instance}]" if self.instance else "")
        if self.evse_id is not None:
            text += f" EVSE {self.evse_id}"
            if self.connector_id is not None:
                text += f"/{self.connector_id}"
        return text


class Variable(models.Model):
    """A variable of a component (OCPP 2.x VariableType)."""

    component = models.ForeignKey(Component, on_delete=models.CASCADE, related_name="variables")
    name = models.CharField(max_length=50)
    instance = models.CharField(max_length=50, blank=True)

    class Meta:
        ordering = ["component", "name", "instance"]
        constraints = [
            models.UniqueConstraint(
                fields=["component", "name", "instance"], name="unique_variable_per_component"
            )
        ]

    def __str__(self) -> str:
        return f"{self.component}.{self.name}" + (f"[{self.instance}]" if self.instance else "")


class VariableAttribute(models.Model):
    """One attribute (Actual, Target, MinSet, MaxSet) of a variable, as the station reported it
    or accepted it."""

    variable = models.ForeignKey(Variable, on_delete=models.CASCADE, related_name="attributes")
    type = models.CharField(
        max_length=10, choices=AttributeType.choices, default=AttributeType.ACTUAL
    )
    # 2.0.1 limits values to 2500 characters; 2.1 allows more. NULL: the station gave no
    # value (a WriteOnly attribute, say), which is not the empty string.
    value = models.TextField(null=True, blank=True)  # noqa: DJ001
    mutability = models.CharField(max_length=10, choices=Mutability.choices, blank=True)
    persistent = models.BooleanField(null=True, blank=True)
    constant = models.BooleanField(null=True, blank=True)
    updated = models.DateTimeField()

    class Meta:
        ordering = ["variable", "type"]
        constraints = [
            models.UniqueConstraint(fields=["variable", "type"], name="unique_attribute_type")
        ]

    def __str__(self) -> str:
        return f"{self.variable} {self.type}={self.value}"


class VariableCharacteristics(models.Model):
    """Fixed properties of a variable (OCPP 2.x VariableCharacteristicsType)."""

    variable = models.OneToOneField(
        Variable, on_delete=models.CASCADE, related_name="characteristics"
    )
    unit = models.CharField(max_length=16, blank=True)
    data_type = models.CharField(max_length=20, choices=DataType.choices)
    min_limit = models.FloatField(null=True, blank=True)
    max_limit = models.FloatField(null=True, blank=True)
    max_elements = models.PositiveIntegerField(null=True, blank=True)
    values_list = models.TextField(blank=True)
    supports_monitoring = models.BooleanField(default=False)

    class Meta:
        verbose_name_plural = "variable characteristics"

    def __str__(self) -> str:
        return f"{self.variable} ({self.data_type})"


class VariableOperation(models.Model):
    """One get or set of a variable attribute and the station's answer, rejections included."""

    station = models.ForeignKey(
        ChargingStation, on_delete=models.CASCADE, related_name="variable_operations"
    )
    variable = models.ForeignKey(
        Variable, null=True, blank=True, on_delete=models.SET_NULL, related_name="operations"
    )
    kind = models.CharField(max_length=3, choices=VariableOperationKind.choices)
    component_name = models.CharField(max_length=50)
    component_instance = models.CharField(max_length=50, blank=True)
    evse_id = models.PositiveIntegerField(null=True, blank=True)
    connector_id = models.PositiveIntegerField(null=True, blank=True)
    variable_name = models.CharField(max_length=50)
    variable_instance = models.CharField(max_length=50, blank=True)
    attribute_type = models.CharField(
        max_length=10, choices=AttributeType.choices, default=AttributeType.ACTUAL
    )
    value = models.TextField(  # noqa: DJ001 (no value read is not an empty value)
        null=True, blank=True, help_text="Value asked to set, or read."
    )
    status = models.CharField(max_length=30)
    status_reason = models.CharField(max_length=20, blank=True)
    status_info = models.TextField(blank=True)
    timestamp = models.DateTimeField()

    class Meta:
        ordering = ["-timestamp"]
        indexes = [models.Index(fields=["station", "-timestamp"])]

    def __str__(self) -> str:
        return (
            f"{self.kind} {self.component_name}.{self.variable_name} {self.attribute_type}: "
            f"{self.status}"
        )


class ConfigurationKey(models.Model):
    """An OCPP 1.6 configuration key of a station (GetConfiguration / ChangeConfiguration)."""

    station = models.ForeignKey(
        ChargingStation, on_delete=models.CASCADE, related_name="configuration_keys"
    )
    key = models.CharField(max_length=50)
    # NULL: the station reported no value (1.6 `value` is optional), not an empty one.
    value = models.TextField(null=True, blank=True)  # noqa: DJ001
    readonly = models.BooleanField(default=False)
    unknown = models.BooleanField(
        default=False, help_text="The station reported this key as unknown."
    )
    reboot_required = models.BooleanField(
        default=False, help_text="The last change was accepted but needs a reboot."
    )
    last_change_status = models.CharField(max_length=20, blank=True)
    updated = models.DateTimeField()

    class Meta:
        ordering = ["station", "key"]
        constraints = [
            models.UniqueConstraint(fields=["station", "key"], name="unique_configuration_key")
        ]

    def __str__(self) -> str:
        return f"{self.station} {self.key}={self.value}"


class ReportRequest(models.Model):
    """A request whose answer arrives in parts (reports, monitoring reports, display messages,
    customer information), tracked by its requestId."""

    station = models.ForeignKey(
        ChargingStation, on_delete=models.CASCADE, related_name="report_requests"
    )
    kind = models.CharField(max_length=20, choices=ReportKind.choices)
    request_id = models.IntegerField()
    criteria = models.JSONField(default=dict, blank=True, help_text="What was asked for.")
    status = models.CharField(
        max_length=20, choices=ReportStatus.choices, default=ReportStatus.REQUESTED
    )
    status_info = models.TextField(blank=True)
    parts_received = models.PositiveIntegerField(default=0)
    requested_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["station", "kind", "request_id"], name="unique_report_request"
            )
        ]

    def __str__(self) -> str:
        return f"{self.station} {self.kind} #{self.request_id} ({self.status})"


class ReportPart(models.Model):
    """One message (seqNo) of a multi-part report, stored as it arrived."""

    report = models.ForeignKey(ReportRequest, on_delete=models.CASCADE, related_name="parts")
    seq_no = models.PositiveIntegerField()
    tbc = models.BooleanField(default=False)
    generated_at = models.DateTimeField(null=True, blank=True)
    payload = models.JSONField()
    received_at = models.DateTimeField()

    class Meta:
        ordering = ["report", "seq_no"]
        constraints = [
            models.UniqueConstraint(fields=["report", "seq_no"], name="unique_report_part")
        ]

    def __str__(self) -> str:
        return f"{self.report} part {self.seq_no}{' (more to come)' if self.tbc else ''}"


class VariableMonitor(models.Model):
    """A monitor the station runs on a variable (SetVariableMonitoring, NotifyMonitoringReport)."""

    station = models.ForeignKey(
        ChargingStation, on_delete=models.CASCADE, related_name="variable_monitors"
    )
    variable = models.ForeignKey(Variable, on_delete=models.CASCADE, related_name="monitors")
    monitor_id = models.IntegerField(help_text="The id the station gave the monitor.")
    type = models.CharField(max_length=25, choices=MonitorType.choices)
    value = models.FloatField()
    severity = models.PositiveSmallIntegerField()
    transaction = models.BooleanField(default=False)
    updated = models.DateTimeField()

    class Meta:
        ordering = ["station", "monitor_id"]
        constraints = [
            models.UniqueConstraint(fields=["station", "monitor_id"], name="unique_monitor_id")
        ]

    def __str__(self) -> str:
        return f"monitor {self.monitor_id} {self.type} {self.value} on {self.variable}"


class MonitoringSetting(models.Model):
    """The station-wide monitoring base and level last accepted by the station."""

    station = models.OneToOneField(
        ChargingStation, on_delete=models.CASCADE, related_name="monitoring_setting"
    )
    monitoring_base = models.CharField(max_length=20, blank=True)
    monitoring_level = models.PositiveSmallIntegerField(null=True, blank=True)
    updated = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.station}: base {self.monitoring_base}, level {self.monitoring_level}"


class DeviceEvent(models.Model):
    """An event the station notified (NotifyEvent): a monitor triggered, an alert, a delta."""

    station = models.ForeignKey(ChargingStation, on_delete=models.CASCADE, related_name="events")
    variable = models.ForeignKey(
        Variable, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    event_id = models.IntegerField()
    timestamp = models.DateTimeField()
    trigger = models.CharField(max_length=20)
    cause = models.IntegerField(null=True, blank=True)
    actual_value = models.TextField()
    tech_code = models.CharField(max_length=50, blank=True)
    tech_info = models.TextField(blank=True)
    cleared = models.BooleanField(default=False)
    transaction_id = models.CharField(max_length=36, blank=True)
    variable_monitoring_id = models.IntegerField(null=True, blank=True)
    event_notification_type = models.CharField(max_length=30)
    component_name = models.CharField(max_length=50)
    variable_name = models.CharField(max_length=50)
    severity = models.PositiveSmallIntegerField(null=True, blank=True)
    payload = models.JSONField()
    received_at = models.DateTimeField()

    class Meta:
        ordering = ["-timestamp"]
        indexes = [
            models.Index(fields=["station", "-timestamp"]),
            models.Index(fields=["trigger"]),
        ]

    def __str__(self) -> str:
        return (
            f"{self.station} event {self.event_id} {self.trigger} "
            f"{self.component_name}.{self.variable_name}={self.actual_value}"
        )


class DisplayMessage(models.Model):
    """A message shown on a station's display (SetDisplayMessage, NotifyDisplayMessages)."""

    station = models.ForeignKey(
        ChargingStation, on_delete=models.CASCADE, related_name="display_messages"
    )
    message_id = models.IntegerField()
    priority = models.CharField(max_length=20)
    message_state = models.CharField(max_length=20, blank=True)
    start_at = models.DateTimeField(null=True, blank=True)
    end_at = models.DateTimeField(null=True, blank=True)
    transaction_id = models.CharField(max_length=36, blank=True)
    content = models.TextField()
    language = models.CharField(max_length=8, blank=True)
    format = models.CharField(max_length=10)
    state = models.CharField(max_length=10, choices=DisplayMessageState.choices)
    last_status = models.CharField(max_length=30, blank=True)
    payload = models.JSONField()
    updated = models.DateTimeField()

    class Meta:
        ordering = ["station", "message_id"]
        constraints = [
            models.UniqueConstraint(fields=["station", "message_id"], name="unique_display_message")
        ]

    def __str__(self) -> str:
        return f"{self.station} message {self.message_id}: {self.content[:40]}"


class DataTransferMessage(models.Model):
    """A DataTransfer in either direction, with the answer."""

    station = models.ForeignKey(
        ChargingStation, on_delete=models.CASCADE, related_name="data_transfers"
    )
    direction = models.CharField(max_length=3, choices=DataTransferDirection.choices)
    vendor_id = models.CharField(max_length=255)
    message_id = models.CharField(max_length=50, blank=True)
    data = models.JSONField(null=True, blank=True)
    status = models.CharField(max_length=20, blank=True)
    response_data = models.JSONField(null=True, blank=True)
    status_info = models.TextField(blank=True)
    timestamp = models.DateTimeField()

    class Meta:
        ordering = ["-timestamp"]
        indexes = [
            models.Index(fields=["station", "-timestamp"]),
            models.Index(fields=["vendor_id", "message_id"]),
        ]

    def __str__(self) -> str:
        return f"{self.station} DataTransfer {self.vendor_id}/{self.message_id}: {self.status}"


class PeriodicEventStream(models.Model):
    """A periodic event stream a station opened on one of its variable monitors (OCPP 2.1
    N11-N15): opened, adjusted and closed here as the station and the CSMS report it."""

    station = models.ForeignKey(
        ChargingStation, on_delete=models.CASCADE, related_name="event_streams"
    )
    stream_id = models.IntegerField(help_text="The id the station gave the stream.")
    variable_monitoring_id = models.IntegerField()
    variable = models.ForeignKey(
        Variable,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="event_streams",
        help_text="The variable its monitor watches, when the CSMS knows the monitor.",
    )
    interval = models.PositiveIntegerField(null=True, blank=True, help_text="Seconds.")
    values = models.PositiveIntegerField(null=True, blank=True)
    is_open = models.BooleanField(default=True)
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    updated = models.DateTimeField()

    class Meta:
        ordering = ["station", "stream_id"]
        constraints = [
            models.UniqueConstraint(fields=["station", "stream_id"], name="unique_event_stream_id")
        ]

    def __str__(self) -> str:
        state = "open" if self.is_open else "closed"
        return f"{self.station} stream {self.stream_id} ({state})"


class PeriodicEventStreamValue(models.Model):
    """One value of a periodic event stream (NotifyPeriodicEventStream): a time series kept
    next to the variable it monitors."""

    stream = models.ForeignKey(PeriodicEventStream, on_delete=models.CASCADE, related_name="data")
    timestamp = models.DateTimeField()
    value = models.TextField()
    received_at = models.DateTimeField()

    class Meta:
        ordering = ["stream", "timestamp"]
        indexes = [models.Index(fields=["stream", "timestamp"])]

    def __str__(self) -> str:
        return f"{self.stream_id} {self.timestamp:%Y-%m-%d %H:%M:%S} = {self.value}"
