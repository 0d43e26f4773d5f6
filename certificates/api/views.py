"""Read-only certificate data; certificates are installed and deleted through the message API
(InstallCertificate, DeleteCertificate, GetInstalledCertificateIds), which records them here."""

from rest_framework import viewsets

from certificates.api.serializers import (
    CertificateSigningRequestSerializer,
    InstalledCertificateSerializer,
)
from certificates.models import CertificateSigningRequest, InstalledCertificate


class CertificateSigningRequestViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = CertificateSigningRequest.objects.select_related("station")
    serializer_class = CertificateSigningRequestSerializer
    filterset_fields = {"station__identity": ["exact"], "status": ["exact"]}
    ordering_fields = ["received"]


class InstalledCertificateViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = InstalledCertificate.objects.select_related("station")
    serializer_class = InstalledCertificateSerializer
    filterset_fields = {"station__identity": ["exact"], "certificate_type": ["exact"]}
    ordering_fields = ["updated"]
