"""Read-only certificate data; certificates are installed and deleted through the message API
(InstallCertificate, DeleteCertificate, GetInstalledCertificateIds), which records them here."""

from rest_framework import viewsets

from certificates.api.serializers import (
    CertificateSigningRequestSerializer,
    InstalledCertificateSerializer,
)
from certificates.models import CertificateSigningRequest, InstalledCertificate
from csms.api.stations import StationFilterSet


class CertificateSigningRequestFilter(StationFilterSet):
    class Meta:
        model = CertificateSigningRequest
        fields = ["status"]


class InstalledCertificateFilter(StationFilterSet):
    class Meta:
        model = InstalledCertificate
        fields = ["certificate_type"]


class CertificateSigningRequestViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = CertificateSigningRequest.objects.select_related("station")
    serializer_class = CertificateSigningRequestSerializer
    filterset_class = CertificateSigningRequestFilter
    ordering_fields = ["received"]


class InstalledCertificateViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = InstalledCertificate.objects.select_related("station")
    serializer_class = InstalledCertificateSerializer
    filterset_class = InstalledCertificateFilter
    ordering_fields = ["updated"]
