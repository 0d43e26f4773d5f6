from __future__ import annotations

from django.db import models

from stations.choices import (
    ConnectorStatus,
    Direction,
    EventSource,
    MessageType,
    OcppVersion,
    RegistrationStatus,
)


class ChargingStation(models.Model):
    """A charging station known to the CSMS, with its registration and connection state."""

    # OCPP's "charging station identity": the last path segment of the websocket URL.
    # Called identity, not station_id, so it never reads like the `station_id` foreign key
    # column of related models.
    identity = models.CharField(
        max_length=48, unique=True, help_text="Identity the station connects with."
    )
    enabled = models.BooleanField(
        default=True, help_text="A disabled station is refused at the handshake."
    )
    security_profile = models.PositiveSmallIntegerField(
        default=0,
        choices=[
            (0, "0: no authentication"),
            (1, "1: basic auth"),
            (2, "2: TLS + basic auth"),
            (3, "3: TLS client certificate"),
        ],
    )
    account = models.CharField(max_length=64, blank=True)
    # Basic-auth password of profiles 1 and 2, as a salted hash (stations.passwords); never
    # in plain text.
    password_hash = models.CharField(max_length=128, blank=True, editable=False)
    password_changed_at = models.DateTimeField(null=True, blank=True, editable=False)
    # A password sent to the station and not yet confirmed (OCPP 2.0.1 A01): a station may
    # answer Accepted and reconnect with it before the CSMS has stored its answer.
    password_pending_hash = models.CharField(max_length=128, blank=True, editable=False)
    # A higher profile the station accepted in SetNetworkProfile (OCPP 2.0.1 B09, A05): the
    # stored profile is raised to it once the station connects meeting it, never before.
    security_profile_pending = models.PositiveSmallIntegerField(
        null=True, blank=True, editable=False
    )

    # Boot configuration (OCPP 2.0.1 B01-B04): the answer to the next BootNotification.
    # Empty / null values fall back to the CSMS_BOOT_* settings.
    boot_status = models.CharField(
        max_length=10,
        choices=RegistrationStatus.choices,
        blank=True,
        help_text="Status for the next BootNotification (empty: CSMS_BOOT_STATUS).",
    )
    heartbeat_interval = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Heartbeat interval (s) handed out when Accepted (empty: "
        "CSMS_HEARTBEAT_INTERVAL).",
    )
    boot_retry_interval = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Seconds before the next BootNotification when Pending or Rejected (empty: "
        "CSMS_BOOT_RETRY_INTERVAL).",
    )
    boot_get_base_report = models.BooleanField(
        null=True,
        blank=True,
        help_text="While Pending, fetch the full inventory (2.x GetBaseReport, 1.6 "
        "GetConfiguration); the next boot is then Accepted (empty: CSMS_BOOT_GET_BASE_REPORT).",
    )
    base_report_at = models.DateTimeField(
        null=True, blank=True, help_text="When the station last accepted the inventory request."
    )

    # From BootNotification.
    vendor = models.CharField(max_length=50, blank=True)
    model = models.CharField(max_length=50, blank=True)
    serial_number = models.CharField(max_length=50, blank=True)
    firmware_version = models.CharField(max_length=50, blank=True)
    iccid = models.CharField(max_length=20, blank=True)
    imsi = models.CharField(max_length=20, blank=True)
    meter_type = models.CharField(max_length=25, blank=True)
    meter_serial_number = models.CharField(max_length=25, blank=True)
    registration_status = models.CharField(
        max_length=10, choices=RegistrationStatus.choices, blank=True
    )
    last_boot_at = models.DateTimeField(null=True, blank=True)

    # Connection state.
    protocol = models.CharField(max_length=5, choices=OcppVersion.choices, blank=True)
    is_online = models.BooleanField(default=False)
    connected_since = models.DateTimeField(null=True, blank=True)
    last_seen = models.DateTimeField(null=True, blank=True)
    last_heartbeat = models.DateTimeField(null=True, blank=True)
    remote_address = models.CharField(max_length=64, blank=True)
    channel_name = models.CharField(
        max_length=200, blank=True, help_text="Channel of the consumer holding the websocket."
    )

    # Station-wide status (1.6 StatusNotification on connector 0).
    status = models.CharField(max_length=20, choices=ConnectorStatus.choices, blank=True)
    error_code = models.CharField(max_length=50, blank=True)

    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["identity"]
        indexes = [models.Index(fields=["is_online"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(security_profile__lte=3), name="security_profile_0_to_3"
            )
        ]

    def __str__(self) -> str:
        return self.identity


class Evse(models.Model):
    """An EVSE of a station (2.x evseId; for 1.6 each connectorId > 0 is an EVSE of its own)."""

    station = models.ForeignKey(ChargingStation, on_delete=models.CASCADE, related_name="evses")
    evse_id = models.PositiveIntegerField()

    class Meta:
        ordering = ["station", "evse_id"]
        constraints = [
            models.UniqueConstraint(fields=["station", "evse_id"], name="unique_evse_per_station")
        ]

    def __str__(self) -> str:
        return f"{self.station} EVSE {self.evse_id}"


class Connector(models.Model):
    """A connector of an EVSE, with its last reported status."""

    evse = models.ForeignKey(Evse, on_delete=models.CASCADE, related_name="connectors")
    connector_id = models.PositiveIntegerField()
    status = models.CharField(max_length=20, choices=ConnectorStatus.choices, blank=True)
    error_code = models.CharField(max_length=50, blank=True)
    info = models.CharField(max_length=50, blank=True)
    vendor_id = models.CharField(max_length=255, blank=True)
    vendor_error_code = models.CharField(max_length=50, blank=True)
    status_timestamp = models.DateTimeField(
        null=True, blank=True, help_text="When the station says the status began."
    )
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["evse", "connector_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["evse", "connector_id"], name="unique_connector_per_evse"
            )
        ]

    def __str__(self) -> str:
        return f"{self.evse} connector {self.connector_id}"


class BootNotification(models.Model):
    """One BootNotification a station sent, with the answer it got."""

    station = models.ForeignKey(ChargingStation, on_delete=models.CASCADE, related_name="boots")
    timestamp = models.DateTimeField()
    protocol = models.CharField(max_length=5, choices=OcppVersion.choices)
    reason = models.CharField(max_length=30, blank=True)
    vendor = models.CharField(max_length=50, blank=True)
    model = models.CharField(max_length=50, blank=True)
    serial_number = models.CharField(max_length=50, blank=True)
    firmware_version = models.CharField(max_length=50, blank=True)
    status = models.CharField(max_length=10, choices=RegistrationStatus.choices)
    interval = models.PositiveIntegerField()
    payload = models.JSONField()

    class Meta:
        ordering = ["-timestamp"]
        indexes = [models.Index(fields=["station", "-timestamp"])]

    def __str__(self) -> str:
        return f"{self.station} boot at {self.timestamp:%Y-%m-%d %H:%M:%S} ({self.status})"


class OcppMessage(models.Model):
    """One OCPP frame as it crossed the wire: the message log."""

    id = models.UUIDField(primary_key=True, editable=False)
    # No database constraint and no index of its own: every frame inserts a row, and a
    # foreign-key check per row plus an index that (station, -timestamp) already covers
    # were a large part of the log's write cost. Deleting a station still deletes its
    # messages (Django cascades).
    station = models.ForeignKey(
        ChargingStation,
        on_delete=models.CASCADE,
        related_name="messages",
        db_constraint=False,
        db_index=False,
    )
    timestamp = models.DateTimeField()
    direction = models.CharField(max_length=3, choices=Direction.choices)
    message_type = models.PositiveSmallIntegerField(choices=MessageType.choices)
    message_id = models.CharField(max_length=64, blank=True)
    action = models.CharField(max_length=64, blank=True)
    payload = models.JSONField(null=True)
    error_code = models.CharField(max_length=50, blank=True)
    error_description = models.CharField(max_length=255, blank=True)
    soap_xml = models.TextField(
        blank=True,
        default="",
        help_text="The SOAP envelope of an OCPP-S frame (payload holds its OCPP-J equivalent).",
    )
    answers = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_constraint=False,
        # Indexed below for the answers only: a CALL (half the rows) has none.
        db_index=False,
        related_name="answered_by",
        help_text="The CALL this frame answers.",
    )

    class Meta:
        ordering = ["-timestamp"]
        indexes = [
            models.Index(fields=["station", "-timestamp"]),
            models.Index(fields=["action", "-timestamp"]),
            models.Index(fields=["-timestamp"]),
            models.Index(
                fields=["answers"],
                condition=models.Q(answers__isnull=False),
                name="stations_message_answers_idx",
            ),
        ]

    def __str__(self) -> str:
        arrow = "→" if self.direction == Direction.IN else "←"
        return f"{arrow} {self.get_message_type_display()} {self.action} {self.message_id}"


class SecurityEvent(models.Model):
    """A security event: reported by a station (SecurityEventNotification) or seen by the CSMS
    (refused handshakes, bad credentials, duplicate connections, ...)."""

    station = models.ForeignKey(
        ChargingStation,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="security_events",
    )
    identity = models.CharField(
        max_length=255, blank=True, help_text="The id the peer claimed, known station or not."
    )
    source = models.CharField(max_length=10, choices=EventSource.choices)
    type = models.CharField(max_length=50)
    timestamp = models.DateTimeField(help_text="When it happened (the first time, if repeated).")
    tech_info = models.CharField(max_length=255, blank=True)
    severity = models.PositiveSmallIntegerField(null=True, blank=True)
    remote_address = models.CharField(max_length=64, blank=True)
    count = models.PositiveIntegerField(
        default=1,
        help_text="How many times it happened: the CSMS counts repeats of one kind for one "
        "id within CSMS_SECURITY_EVENT_WINDOW seconds in one row.",
    )
    last_seen = models.DateTimeField(null=True, blank=True, help_text="The latest repeat.")
    window = models.BigIntegerField(
        null=True,
        blank=True,
        editable=False,
        help_text="CSMS-detected events: the window of repeats counted in this row (Unix "
        "time // CSMS_SECURITY_EVENT_WINDOW); empty for station reports, each its own row.",
    )

    class Meta:
        ordering = ["-timestamp"]
        indexes = [models.Index(fields=["station", "-timestamp"]), models.Index(fields=["type"])]
        constraints = [
            # One row per id, kind and window: concurrent repeats count in it, never beside.
            models.UniqueConstraint(
                fields=["identity", "type", "window"],
                condition=models.Q(window__isnull=False),
                name="security_event_one_row_per_window",
            )
        ]

    def __str__(self) -> str:
        return (
            f"{self.identity or self.station_id}: {self.type} at {self.timestamp:%Y-%m-%d %H:%M:%S}"
        )
