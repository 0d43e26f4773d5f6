from django.db import models


class CsrStatus(models.TextChoices):
    REJECTED = "Rejected", "refused by the CSMS"
    SIGNED = "Signed", "signed, not yet delivered"
    DELIVERED = "Delivered", "installed by the station"
    REFUSED = "Refused", "refused by the station"
    UNDELIVERED = "Undelivered", "could not be delivered"


class CertificateUse(models.TextChoices):
    """Certificate types of 1.6 CertificateUseEnumType and 2.x GetCertificateIdUseEnumType."""

    CENTRAL_SYSTEM_ROOT = "CentralSystemRootCertificate"
    MANUFACTURER_ROOT = "ManufacturerRootCertificate"
    CSMS_ROOT = "CSMSRootCertificate"
    V2G_ROOT = "V2GRootCertificate"
    MO_ROOT = "MORootCertificate"
    V2G_CHAIN = "V2GCertificateChain"
    OEM_ROOT = "OEMRootCertificate"
