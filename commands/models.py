from __future__ import annotations

from django.conf import settings
from django.db import models

from commands.choices import CallbackStatus, CommandStatus


class Command(models.Model):
    """A CSMS-initiated OCPP call: who or what sent it, what was sent, and what came back.

    Every call to a station has one (`commands.services`): from the message API, the admin,
    a management command or an internal flow (`origin` names which; `created_by` the user,
    where one sent it)."""

    station = models.ForeignKey(
        "stations.ChargingStation", on_delete=models.CASCADE, related_name="commands"
    )
    action = models.CharField(max_length=64)
    protocol = models.CharField(max_length=5, help_text="OCPP version the call was sent with.")
    request = models.JSONField()
    response = models.JSONField(null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=CommandStatus.choices, default=CommandStatus.PENDING
    )
    error = models.JSONField(
        null=True, blank=True, help_text="code, description and details when status is error."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="ocpp_commands",
    )
    origin = models.CharField(
        max_length=64,
        blank=True,
        default="",
        help_text="What sent it: api, admin, manage.py, or the internal flow (smartcharging, "
        "firmware, transactions, ...).",
    )
    callback_url = models.URLField(max_length=2000, blank=True)
    callback_status = models.CharField(
        max_length=10,
        choices=CallbackStatus.choices,
        blank=True,
        default=CallbackStatus.NONE,
        help_text="The POST of the finished command to its callback URL.",
    )
    callback_attempts = models.PositiveSmallIntegerField(default=0)
    callback_next_at = models.DateTimeField(
        null=True, blank=True, help_text="While the callback is pending: when it is due."
    )
    callback_error = models.CharField(
        max_length=255, blank=True, help_text="Why the last callback attempt failed."
    )
    batch = models.UUIDField(
        null=True,
        blank=True,
        db_index=True,
        help_text="Commands sent together (one bulk action in the admin, one fan-out request) "
        "share it.",
    )
    node = models.CharField(
        max_length=100,
        blank=True,
        help_text="The serving process awaiting the station's answer (server_runtime.nodes).",
    )
    created = models.DateTimeField()
    completed = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [
            models.Index(fields=["station", "-created"]),
            models.Index(fields=["status"]),
            models.Index(
                fields=["callback_next_at"],
                condition=models.Q(callback_status="pending"),
                name="command_callback_due",
            ),
        ]
        permissions = [("send_command", "Can send OCPP commands to stations")]

    def __str__(self) -> str:
        return f"{self.action} to {self.station} ({self.status})"


class CallbackDelivery(models.Model):
    """One attempt to POST a finished command to its callback URL."""

    command = models.ForeignKey(Command, on_delete=models.CASCADE, related_name="deliveries")
    attempt = models.PositiveSmallIntegerField()
    at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=255, blank=True)
    delivered = models.BooleanField(default=False)

    class Meta:
        ordering = ["command", "attempt"]
        constraints = [
            models.UniqueConstraint(fields=["command", "attempt"], name="unique_callback_attempt")
        ]

    def __str__(self) -> str:
        outcome = "delivered" if self.delivered else (self.error or f"HTTP {self.status_code}")
        return f"callback of command {self.command_id}, attempt {self.attempt}: {outcome}"
