from rest_framework import serializers

from certificates.models import CertificateSigningRequest, InstalledCertificate


class CertificateSigningRequestSerializer(serializers.ModelSerializer):
    station_id = serializers.CharField(source="station.identity", read_only=True)

    class Meta:
        model = CertificateSigningRequest
        exclude = ["station"]


class InstalledCertificateSerializer(serializers.ModelSerializer):
    station_id = serializers.CharField(source="station.identity", read_only=True)

    class Meta:
        model = InstalledCertificate
        exclude = ["station"]
