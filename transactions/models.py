from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import Q

from stations.models import ChargingStation
from transactions.choices import (
    TOKEN_STATUSES,
    AuthorizationStatus,
    EventKind,
    IdTokenType,
    MessageFormat,
    RequestStatus,
    ReservationStatus,
)


class IdToken(models.Model):
    """An identifier a driver authorizes with (1.6 idTag, 2.x IdToken) and its IdTokenInfo."""

    value = models.CharField(max_length=255, help_text="1.6 idTag / 2.x idToken.")
    type = models.CharField(
        max_length=20,
        choices=IdTokenType.choices,
        default=IdTokenType.ISO14443,
        help_text="2.x IdTokenType; 1.6 idTags match on the value whatever the type.",
    )
    additional_info = models.JSONField(
        default=list, blank=True, help_text='2.x additionalInfo: [{"additionalIdToken", "type"}].'
    )
    status = models.CharField(
        max_length=20, choices=TOKEN_STATUSES, default=AuthorizationStatus.ACCEPTED
    )
    expiry_date = models.DateTimeField(null=True, blank=True)
    group_id_token = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="members",
        help_text="2.x groupIdToken / 1.6 parentIdTag.",
    )
    language1 = models.CharField(max_length=8, blank=True)
    language2 = models.CharField(max_length=8, blank=True)
    personal_message = models.CharField(max_length=512, blank=True)
    personal_message_format = models.CharField(
        max_length=5, choices=MessageFormat.choices, default=MessageFormat.UTF8
    )
    charging_priority = models.SmallIntegerField(null=True, blank=True)
    in_local_list = models.BooleanField(
        default=False, help_text="Sent to stations in their local authorization list."
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["value", "type"]
        constraints = [
            models.UniqueConstraint(fields=["value", "type"], name="unique_id_token_value_type")
        ]
        indexes = [models.Index(fields=["value"])]

    def __str__(self) -> str:
        return f"{self.value} ({self.type})"


class Tariff(models.Model):
    """The CSMS's price, per station or default: per kWh, per minute, per session, or an OCPP
    2.1 tariff in `definition`; every version's cost is computed by `transactions.cost`."""

    name = models.CharField(max_length=100)
    station = models.ForeignKey(
        ChargingStation,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="tariffs",
        help_text="Empty: the default tariff of every station without one of its own.",
    )
    evse_id = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="The station's EVSE (1.6: connector) it prices; empty: every EVSE of the "
        "station without one of its own.",
    )
    currency = models.CharField(max_length=3, default="EUR", help_text="ISO 4217 code.")
    price_per_kwh = models.DecimalField(max_digits=10, decimal_places=4)
    price_per_minute = models.DecimalField(max_digits=10, decimal_places=4, default=Decimal(0))
    session_fee = models.DecimalField(max_digits=10, decimal_places=4, default=Decimal(0))
    definition = models.JSONField(
        default=dict,
        blank=True,
        help_text=(
            "Optional OCPP 2.1 TariffType (energy, chargingTime, idleTime, fixedFee prices with "
            "conditions, taxRates, minCost/maxCost); when set it prices sessions instead of the "
            "three prices above."
        ),
    )
    active = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["station__identity", "evse_id", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["station"],
                condition=Q(active=True, station__isnull=False, evse_id__isnull=True),
                name="one_active_tariff_per_station",
            ),
            models.UniqueConstraint(
                fields=["station", "evse_id"],
                condition=Q(active=True, station__isnull=False, evse_id__isnull=False),
                name="one_active_tariff_per_evse",
            ),
            models.CheckConstraint(
                condition=Q(evse_id__isnull=True) | Q(station__isnull=False),
                name="tariff_evse_needs_station",
            ),
            models.UniqueConstraint(
                fields=["active"],
                condition=Q(active=True, station__isnull=True),
                name="one_active_default_tariff",
            ),
        ]

    def __str__(self) -> str:
        if self.definition:
            return f"{self.name} (OCPP 2.1 tariff, {self.currency})"
        return f"{self.name} ({self.price_per_kwh} {self.currency}/kWh)"


class Reservation(models.Model):
    """A reservation of an EVSE (1.6 connector) for an id token, sent with ReserveNow."""

    station = models.ForeignKey(
        ChargingStation, on_delete=models.CASCADE, related_name="reservations"
    )
    reservation_id = models.PositiveIntegerField(help_text="The id sent in ReserveNow.")
    evse_id = models.PositiveIntegerField(
        null=True, blank=True, help_text="2.x evseId / 1.6 connectorId; empty or 0: any."
    )
    connector_type = models.CharField(max_length=20, blank=True)
    id_token_value = models.CharField(max_length=255)
    id_token_type = models.CharField(max_length=20, blank=True)
    group_id_token_value = models.CharField(max_length=255, blank=True)
    expiry = models.DateTimeField()
    status = models.CharField(
        max_length=14, choices=ReservationStatus.choices, default=ReservationStatus.PENDING
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created"]
        constraints = [
            models.UniqueConstraint(
                fields=["station", "reservation_id"], name="unique_reservation_id_per_station"
            )
        ]
        indexes = [models.Index(fields=["status", "expiry"])]

    def __str__(self) -> str:
        return f"Reservation {self.reservation_id} on {self.station} ({self.status})"


class RemoteStart(models.Model):
    """A remote start the CSMS asked for (1.6 RemoteStartTransaction, 2.x
    RequestStartTransaction) and the transaction it led to."""

    station = models.ForeignKey(
        ChargingStation, on_delete=models.CASCADE, related_name="remote_starts"
    )
    remote_start_id = models.PositiveIntegerField(
        null=True, blank=True, help_text="2.x remoteStartId (1.6 has none)."
    )
    id_token_value = models.CharField(max_length=255)
    id_token_type = models.CharField(max_length=20, blank=True)
    evse_id = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(
        max_length=12, choices=RequestStatus.choices, default=RequestStatus.PENDING
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created"]
        constraints = [
            models.UniqueConstraint(
                fields=["station", "remote_start_id"],
                condition=Q(remote_start_id__isnull=False),
                name="unique_remote_start_id_per_station",
            )
        ]

    def __str__(self) -> str:
        return f"Remote start {self.remote_start_id or self.pk} on {self.station} ({self.status})"


class Transaction(models.Model):
    """A charging session as the station reported it, whatever order its messages came in."""

    station = models.ForeignKey(
        ChargingStation, on_delete=models.PROTECT, related_name="transactions"
    )
    ocpp_version = models.CharField(max_length=5)
    # 2.x: the station's string id; 1.6: the integer id we assigned, as text.
    transaction_id = models.CharField(max_length=36)
    # 1.6 only: the key StartTransaction is deduplicated on (connector, idTag, timestamp,
    # meterStart), or that of a StopTransaction with no known transaction.
    dedup_key = models.CharField(max_length=255, blank=True)
    reported_transaction_id = models.BigIntegerField(
        null=True, blank=True, help_text="1.6: the id a StopTransaction carried (-1, unknown)."
    )
    evse_id = models.PositiveIntegerField(null=True, blank=True)
    connector_id = models.PositiveIntegerField(null=True, blank=True)
    id_token = models.ForeignKey(
        IdToken, null=True, blank=True, on_delete=models.SET_NULL, related_name="transactions"
    )
    id_token_value = models.CharField(max_length=255, blank=True)
    id_token_type = models.CharField(max_length=20, blank=True)
    auth_status = models.CharField(
        max_length=20,
        choices=AuthorizationStatus.choices,
        blank=True,
        help_text="Status answered for the id token when the transaction began.",
    )
    stop_id_token_value = models.CharField(max_length=255, blank=True)
    is_active = models.BooleanField(default=True)
    started_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    last_event_at = models.DateTimeField(null=True, blank=True)
    meter_start = models.DecimalField(
        max_digits=20, decimal_places=3, null=True, blank=True, help_text="Wh"
    )
    meter_stop = models.DecimalField(
        max_digits=20, decimal_places=3, null=True, blank=True, help_text="Wh"
    )
    energy_wh = models.DecimalField(max_digits=20, decimal_places=3, null=True, blank=True)
    # The earliest and latest Energy.Active.Import.Register readings (Wh) seen so far, by
    # timestamp: energy follows time order whatever order messages arrive in.
    first_reading_at = models.DateTimeField(null=True, blank=True)
    first_reading_wh = models.DecimalField(max_digits=20, decimal_places=3, null=True, blank=True)
    last_reading_at = models.DateTimeField(null=True, blank=True)
    last_reading_wh = models.DecimalField(max_digits=20, decimal_places=3, null=True, blank=True)
    stop_reason = models.CharField(max_length=30, blank=True)
    charging_state = models.CharField(max_length=20, blank=True)
    trigger_reason = models.CharField(max_length=30, blank=True, help_text="Of the latest event.")
    min_seq_no = models.PositiveIntegerField(null=True, blank=True)
    max_seq_no = models.PositiveIntegerField(null=True, blank=True)
    event_count = models.PositiveIntegerField(default=0)
    offline = models.BooleanField(default=False, help_text="Some message was sent offline.")
    number_of_phases_used = models.PositiveSmallIntegerField(null=True, blank=True)
    cable_max_current = models.IntegerField(null=True, blank=True)
    time_spent_charging = models.PositiveIntegerField(null=True, blank=True)
    remote_start_id = models.PositiveIntegerField(null=True, blank=True)
    remote_start_request = models.ForeignKey(
        RemoteStart, null=True, blank=True, on_delete=models.SET_NULL, related_name="transactions"
    )
    reservation = models.ForeignKey(
        Reservation, null=True, blank=True, on_delete=models.SET_NULL, related_name="transactions"
    )
    tariff = models.ForeignKey(
        Tariff, null=True, blank=True, on_delete=models.SET_NULL, related_name="transactions"
    )
    total_cost = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    tariff_history = models.JSONField(
        default=list,
        blank=True,
        help_text="OCPP 2.1 I11: the tariffs replaced while it ran (ChangeTransactionTariff), "
        "each as a TariffType with when it stopped applying (until) and the energy so far "
        "(energyWh); they price their part of the session.",
    )
    reserved_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the reservation it used began (OCPP 2.1 reservation prices).",
    )
    station_cost = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="OCPP 2.1 I12: the total cost (taxes included) the station calculated "
        "(costDetails of its latest TransactionEvent).",
    )
    cost_sent_at = models.DateTimeField(null=True, blank=True)
    anomalies = models.JSONField(default=list, blank=True)
    ended_by = models.CharField(
        max_length=150,
        blank=True,
        help_text="Who ended it when the CSMS did, not the station: an operator's user name "
        "or the CSMS rule (superseded, not_continued, stale, refused_not_stopped).",
    )
    end_note = models.TextField(blank=True, help_text="Why it was ended by the CSMS.")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["station", "transaction_id"], name="unique_transaction_id_per_station"
            ),
            models.UniqueConstraint(
                fields=["station", "dedup_key"],
                condition=~Q(dedup_key=""),
                name="unique_transaction_dedup_key_per_station",
            ),
        ]
        indexes = [
            models.Index(fields=["station", "is_active"]),
            models.Index(fields=["id_token_value", "is_active"]),
            models.Index(fields=["-started_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.station} transaction {self.transaction_id}"


class TransactionEvent(models.Model):
    """One transaction message received (2.x TransactionEvent; 1.6 Start/Stop/MeterValues),
    kept verbatim; its business key makes a second delivery a no-op."""

    station = models.ForeignKey(
        ChargingStation, on_delete=models.CASCADE, related_name="transaction_events"
    )
    transaction = models.ForeignKey(
        Transaction, null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    kind = models.CharField(max_length=8, choices=EventKind.choices)
    seq_no = models.PositiveIntegerField(null=True, blank=True)
    # 1.6 business key (StopTransaction, MeterValues); 2.x events use (transaction, seq_no).
    dedup_key = models.CharField(max_length=255, blank=True)
    timestamp = models.DateTimeField()
    trigger_reason = models.CharField(max_length=30, blank=True)
    offline = models.BooleanField(default=False)
    anomalies = models.JSONField(default=list, blank=True)
    payload = models.JSONField()
    answer = models.JSONField(
        null=True, blank=True, help_text="What we answered: a duplicate gets the same answer."
    )
    received_at = models.DateTimeField()

    class Meta:
        ordering = ["timestamp", "seq_no"]
        constraints = [
            # OCPP 2.0.1: station + transactionId + seqNo identify an event.
            models.UniqueConstraint(
                fields=["transaction", "seq_no"],
                condition=Q(seq_no__isnull=False),
                name="unique_seq_no_per_transaction",
            ),
            models.UniqueConstraint(
                fields=["station", "dedup_key"],
                condition=~Q(dedup_key=""),
                name="unique_event_dedup_key_per_station",
            ),
        ]

    def __str__(self) -> str:
        seq = f" #{self.seq_no}" if self.seq_no is not None else ""
        return f"{self.get_kind_display()}{seq} at {self.timestamp:%Y-%m-%d %H:%M:%S}"


class MeterValue(models.Model):
    """One sampled value, as the station sent it."""

    # No single-column indexes on station and transaction: the composite indexes below
    # lead with them and serve the same lookups, and every sampled value inserted paid for
    # two more index entries.
    station = models.ForeignKey(
        ChargingStation, on_delete=models.CASCADE, related_name="meter_values", db_index=False
    )
    transaction = models.ForeignKey(
        Transaction,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="meter_values",
        db_index=False,
    )
    event = models.ForeignKey(
        TransactionEvent,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="meter_values",
    )
    evse_id = models.PositiveIntegerField(null=True, blank=True)
    connector_id = models.PositiveIntegerField(null=True, blank=True)
    timestamp = models.DateTimeField()
    measurand = models.CharField(max_length=64)
    phase = models.CharField(max_length=8, blank=True)
    location = models.CharField(max_length=10, blank=True)
    context = models.CharField(max_length=24, blank=True)
    unit = models.CharField(max_length=20, blank=True)
    multiplier = models.SmallIntegerField(default=0, help_text="2.x unitOfMeasure.multiplier")
    value = models.DecimalField(max_digits=30, decimal_places=9, null=True, blank=True)
    signed_data = models.JSONField(
        null=True, blank=True, help_text="Signed meter data exactly as the station sent it."
    )

    class Meta:
        ordering = ["timestamp", "id"]
        indexes = [
            models.Index(fields=["transaction", "measurand", "timestamp"]),
            models.Index(fields=["station", "timestamp"]),
        ]

    def __str__(self) -> str:
        return f"{self.measurand} {self.value} {self.unit} at {self.timestamp:%Y-%m-%d %H:%M:%S}"


class LocalAuthList(models.Model):
    """The local authorization list version of a station, as we sent it and as it reported it."""

    station = models.OneToOneField(
        ChargingStation, on_delete=models.CASCADE, related_name="local_auth_list"
    )
    version = models.IntegerField(default=0, help_text="Version of the last list accepted.")
    reported_version = models.IntegerField(
        null=True, blank=True, help_text="Last version the station reported (GetLocalListVersion)."
    )
    last_status = models.CharField(max_length=20, blank=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["station__identity"]

    def __str__(self) -> str:
        return f"{self.station} local list v{self.version}"


class LocalAuthListEntry(models.Model):
    """One entry a station holds in its local authorization list (what we last sent)."""

    station = models.ForeignKey(
        ChargingStation, on_delete=models.CASCADE, related_name="local_auth_entries"
    )
    id_token_value = models.CharField(max_length=255)
    id_token_type = models.CharField(max_length=20, blank=True)
    info = models.JSONField(help_text="The idTagInfo / idTokenInfo sent.")

    class Meta:
        ordering = ["station", "id_token_value"]
        constraints = [
            models.UniqueConstraint(
                fields=["station", "id_token_value", "id_token_type"],
                name="unique_local_list_entry",
            )
        ]

    def __str__(self) -> str:
        return f"{self.station}: {self.id_token_value}"


class BatterySwap(models.Model):
    """A battery swap (OCPP 2.1 battery swap use cases): the CSMS's RequestBatterySwap and
    the station's BatterySwap events (BatteryIn, BatteryOut, BatteryOutTimeout)."""

    station = models.ForeignKey(
        ChargingStation, on_delete=models.CASCADE, related_name="battery_swaps"
    )
    request_id = models.IntegerField()
    event_type = models.CharField(
        max_length=20, help_text="BatteryIn, BatteryOut, BatteryOutTimeout; Requested by us."
    )
    id_token_value = models.CharField(max_length=255)
    id_token_type = models.CharField(max_length=20)
    batteries = models.JSONField(default=list, blank=True, help_text="batteryData as sent.")
    status = models.CharField(max_length=15, blank=True, help_text="The station's answer.")
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["station", "request_id"])]

    def __str__(self) -> str:
        return f"{self.station} battery swap {self.request_id} {self.event_type}"


class Settlement(models.Model):
    """A payment settled at the station's payment terminal (NotifySettlement), kept with the
    transaction it pays for."""

    station = models.ForeignKey(
        ChargingStation, on_delete=models.CASCADE, related_name="settlements"
    )
    transaction = models.ForeignKey(
        Transaction, null=True, blank=True, on_delete=models.SET_NULL, related_name="settlements"
    )
    transaction_ref = models.CharField(
        max_length=36, blank=True, help_text="The transactionId the station sent."
    )
    psp_ref = models.CharField(max_length=255)
    status = models.CharField(max_length=10, help_text="Settled, Canceled, Rejected, Failed.")
    status_info = models.CharField(max_length=500, blank=True)
    amount = models.DecimalField(max_digits=12, decimal_places=4)
    settled_at = models.DateTimeField()
    receipt_id = models.CharField(max_length=50, blank=True)
    receipt_url = models.URLField(max_length=2000, blank=True)
    vat_number = models.CharField(max_length=20, blank=True)
    vat_company = models.JSONField(null=True, blank=True)
    received_at = models.DateTimeField()

    class Meta:
        ordering = ["-settled_at"]
        constraints = [
            models.UniqueConstraint(fields=["station", "psp_ref"], name="unique_settlement_psp_ref")
        ]

    def __str__(self) -> str:
        return f"{self.station} settlement {self.psp_ref} {self.amount} ({self.status})"


class VatNumberCheck(models.Model):
    """A VAT number a station asked the CSMS to validate (VatNumberValidation), and the answer."""

    station = models.ForeignKey(
        ChargingStation, on_delete=models.CASCADE, related_name="vat_number_checks"
    )
    vat_number = models.CharField(max_length=20)
    evse_id = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=10)
    company = models.JSONField(null=True, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.station} VAT {self.vat_number} {self.status}"


class WebPayment(models.Model):
    """The CSMS told the station a driver started paying on the web for an EVSE
    (NotifyWebPaymentStarted), so it waits `timeout` seconds for the authorization."""

    station = models.ForeignKey(
        ChargingStation, on_delete=models.CASCADE, related_name="web_payments"
    )
    evse_id = models.PositiveIntegerField()
    timeout = models.PositiveIntegerField(help_text="Seconds.")
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.station} EVSE {self.evse_id} web payment started"


class StationTariff(models.Model):
    """A 2.1 tariff (TariffType, as on the wire) a station holds, as the CSMS knows it: a
    default tariff per EVSE (SetDefaultTariff; evse 0: every EVSE) or the tariff of one
    transaction (ChangeTransactionTariff). Kept true by GetTariffs and ClearTariffs."""

    station = models.ForeignKey(
        ChargingStation, on_delete=models.CASCADE, related_name="station_tariffs"
    )
    evse_id = models.PositiveIntegerField(default=0)
    tariff_id = models.CharField(max_length=60)
    transaction_id = models.CharField(
        max_length=36, blank=True, help_text="Set for a ChangeTransactionTariff tariff."
    )
    currency = models.CharField(max_length=3)
    tariff = models.JSONField()
    priced = models.ForeignKey(
        Tariff,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="held_by",
        help_text="The CSMS's copy of it, pricing the transactions it applies to.",
    )
    status = models.CharField(max_length=25, help_text="The station's last answer about it.")
    updated = models.DateTimeField()

    class Meta:
        ordering = ["station", "evse_id", "tariff_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["station", "evse_id", "tariff_id", "transaction_id"],
                name="unique_station_tariff",
            )
        ]

    def __str__(self) -> str:
        return f"{self.station} EVSE {self.evse_id} tariff {self.tariff_id} ({self.status})"
