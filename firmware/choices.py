from django.db import models


class FirmwareUpdateKind(models.TextChoices):
    UPDATE = "UpdateFirmware"
    SIGNED_UPDATE = "SignedUpdateFirmware", "SignedUpdateFirmware (1.6 security)"


class LogRequestKind(models.TextChoices):
    DIAGNOSTICS = "GetDiagnostics", "GetDiagnostics (1.6)"
    LOG = "GetLog"


class LogType(models.TextChoices):
    DIAGNOSTICS = "DiagnosticsLog"
    SECURITY = "SecurityLog"
    DATA_COLLECTOR = "DataCollectorLog"
