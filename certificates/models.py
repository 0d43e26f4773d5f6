from __future__ import annotations

from django.db import models

from certificates.choices import CertificateUse, CsrStatus
from stations.models import ChargingStation


class CertificateSigningRequest(models.Model):
    """A CSR a station sent (SignCertificate) and what became of it."""

    station = models.ForeignKey(
        ChargingStation, on_delete=models.CASCADE, related_name="certificate_requests"
    )
    certificate_type = models.CharField(max_length=30, blank=True)
    csr = models.TextField()
    status = models.CharField(max_length=12, choices=CsrStatus.choices)
    reason = models.CharField(max_length=255, blank=True)
    certificate = models.TextField(blank=True, help_text="The signed certificate (PEM).")
    serial_number = models.CharField(max_length=40, blank=True)
    not_after = models.DateTimeField(null=True, blank=True)
    received = models.DateTimeField()
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-received"]

    def __str__(self) -> str:
        return f"{self.station} CSR of {self.received:%Y-%m-%d %H:%M:%S} ({self.status})"


class InstalledCertificate(models.Model):
    """A certificate installed on a station, identified by its OCPP certificate hash data."""

    station = models.ForeignKey(
        ChargingStation, on_delete=models.CASCADE, related_name="installed_certificates"
    )
    certificate_type = models.CharField(max_length=30, choices=CertificateUse.choices)
    hash_algorithm = models.CharField(max_length=6)
    issuer_name_hash = models.CharField(max_length=128)
    issuer_key_hash = models.CharField(max_length=128)
    serial_number = models.CharField(max_length=40)
    child_certificates = models.JSONField(null=True, blank=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["station", "certificate_type"]
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "station",
                    "hash_algorithm",
                    "issuer_name_hash",
                    "issuer_key_hash",
                    "serial_number",
                ],
                name="unique_installed_certificate",
            )
        ]

    def __str__(self) -> str:
        return f"{self.station} {self.certificate_type} {self.serial_number}"
