from rest_framework import serializers

from certificates.models import CertificateSigningRequest, InstalledCertificate
from csms.api.stations import StationIdField


class CertificateSigningRequestSerializer(serializers.ModelSerializer):
    station_id = StationIdField()

    class Meta:
        model = CertificateSigningRequest
        exclude = ["station"]


class InstalledCertificateSerializer(serializers.ModelSerializer):
    station_id = StationIdField()

    class Meta:
        model = InstalledCertificate
        exclude = ["station"]
