from __future__ import annotations

import uuid

from django.db import models

from csms import egress
from csms.encryption import EncryptedTextField
from integrations.choices import AuthType, DeliveryStatus, EventKind, FailureMode


class IntegratorWebhook(models.Model):
    """An integrator's HTTP endpoint that answers station calls in place of the CSMS.

    The CSMS posts the station's CALL as `{"identity", "uniqueId", "action", "payload",
    "account"}` and sends the `payload` of the JSON answer back to the station.
    """

    name = models.CharField(max_length=100, unique=True)
    enabled = models.BooleanField(default=True)
    url = models.URLField(max_length=500, validators=[egress.validate_url])
    actions = models.JSONField(
        default=list,
        blank=True,
        help_text='Station-initiated actions forwarded, e.g. ["BootNotification", "Authorize"]; '
        "empty forwards every station-initiated action.",
    )
    versions = models.JSONField(
        default=list,
        blank=True,
        help_text='OCPP versions forwarded, e.g. ["1.6"]; empty forwards every version.',
    )
    auth_type = models.CharField(max_length=10, choices=AuthType.choices, default=AuthType.NONE)
    username = models.CharField(max_length=200, blank=True, help_text="For Basic auth.")
    # Credentials are stored encrypted (csms.encryption) and never shown: the API and the
    # admin take them and say whether one is set.
    password = EncryptedTextField(blank=True, help_text="For Basic auth.")
    token = EncryptedTextField(blank=True, help_text="For Bearer auth.")
    timeout = models.FloatField(
        default=5.0, help_text="Seconds to wait for the integrator's answer."
    )
    on_failure = models.CharField(
        max_length=10,
        choices=FailureMode.choices,
        default=FailureMode.FALLBACK,
        help_text="When the integrator times out, cannot be reached or answers an HTTP error.",
    )
    priority = models.IntegerField(
        default=0, help_text="When several webhooks take an action, the lowest number wins."
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["priority", "name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(timeout__gt=0), name="integrator_webhook_timeout_positive"
            )
        ]

    def __str__(self) -> str:
        return self.name


class EventSubscription(models.Model):
    """An endpoint notified (signed JSON POST) of chosen domain events."""

    name = models.CharField(max_length=100, unique=True)
    enabled = models.BooleanField(default=True)
    url = models.URLField(max_length=500, validators=[egress.validate_url])
    # Stored encrypted, never shown (as the integrators' credentials).
    secret = EncryptedTextField(help_text="Key of the HMAC-SHA256 signature in X-CSMS-Signature.")
    events = models.JSONField(
        default=list,
        help_text='Event kinds, e.g. ["station.booted", "transaction.ended"]; see EventKind.',
    )
    ocpp_actions = models.JSONField(
        default=list,
        blank=True,
        help_text='For "ocpp.message": the actions whose frames are sent, e.g. ["Heartbeat"].',
    )
    max_attempts = models.PositiveSmallIntegerField(
        default=5, help_text="Attempts per event, the first included."
    )
    timeout = models.FloatField(default=10.0, help_text="Seconds to wait for each attempt.")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(max_attempts__gte=1), name="event_subscription_attempts_min"
            ),
            models.CheckConstraint(
                condition=models.Q(timeout__gt=0), name="event_subscription_timeout_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def wants(self, kind: str) -> bool:
        return kind in self.events


class EventDelivery(models.Model):
    """One event sent (or being sent) to one subscription: the delivery log."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subscription = models.ForeignKey(
        EventSubscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.CharField(max_length=40, choices=EventKind.choices)
    station = models.CharField(max_length=48, blank=True)
    payload = models.JSONField(help_text="The JSON body posted.")
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    status_code = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="HTTP status of the last attempt."
    )
    error = models.CharField(max_length=255, blank=True, help_text="Why the last attempt failed.")
    history = models.JSONField(
        default=list, blank=True, help_text="Every attempt: time, HTTP status, error."
    )
    created = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="While pending: when the next attempt is due (the retry job takes it then).",
    )

    class Meta:
        ordering = ["-created"]
        verbose_name_plural = "event deliveries"
        indexes = [
            models.Index(fields=["subscription", "-created"]),
            models.Index(fields=["status", "-created"]),
            # The retry job's claim: pending rows by due time.
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="pending"),
                name="event_delivery_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} to {self.subscription_id} ({self.status})"
