from certificates.models import CertificateSigningRequest, InstalledCertificate
from csms.api.stations import StationScopedSerializer


class CertificateSigningRequestSerializer(StationScopedSerializer):
    class Meta:
        model = CertificateSigningRequest
        exclude = ["station"]


class InstalledCertificateSerializer(StationScopedSerializer):
    class Meta:
        model = InstalledCertificate
        exclude = ["station"]
