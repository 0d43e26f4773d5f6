"""Station passwords the device model stored before it redacted them: variable attributes
and operations of SecurityCtrlr.BasicAuthPassword, 1.6 AuthorizationKey values, and the
stored reports and events that carry them."""

from django.db import migrations
from django.db.models import TextField
from django.db.models.functions import Cast

from stations.redaction import (
    PASSWORD_COMPONENT,
    PASSWORD_KEY_16,
    PASSWORD_VARIABLE,
    REDACTED,
    redact,
    redact_event_item,
)


def redact_device_model(apps, schema_editor):
    VariableAttribute = apps.get_model("devicemodel", "VariableAttribute")
    VariableOperation = apps.get_model("devicemodel", "VariableOperation")
    ConfigurationKey = apps.get_model("devicemodel", "ConfigurationKey")
    DeviceEvent = apps.get_model("devicemodel", "DeviceEvent")
    ReportPart = apps.get_model("devicemodel", "ReportPart")

    VariableAttribute.objects.filter(
        variable__component__name__iexact=PASSWORD_COMPONENT,
        variable__name__iexact=PASSWORD_VARIABLE,
        value__isnull=False,
    ).update(value=REDACTED)
    VariableOperation.objects.filter(
        component_name__iexact=PASSWORD_COMPONENT,
        variable_name__iexact=PASSWORD_VARIABLE,
        value__isnull=False,
    ).update(value=REDACTED)
    ConfigurationKey.objects.filter(key__iexact=PASSWORD_KEY_16, value__isnull=False).update(
        value=REDACTED
    )
    for event in DeviceEvent.objects.filter(
        component_name__iexact=PASSWORD_COMPONENT, variable_name__iexact=PASSWORD_VARIABLE
    ).iterator():
        event.actual_value = REDACTED
        event.payload = redact_event_item(event.payload)
        event.save(update_fields=["actual_value", "payload"])
    parts = ReportPart.objects.annotate(text=Cast("payload", TextField())).filter(
        text__icontains=PASSWORD_VARIABLE
    )
    for part in parts.iterator():
        redacted = redact("NotifyReport", part.payload)
        if redacted is not part.payload:
            part.payload = redacted
            part.save(update_fields=["payload"])


class Migration(migrations.Migration):
    dependencies = [("devicemodel", "0002_ocpp21")]

    operations = [migrations.RunPython(redact_device_model, migrations.RunPython.noop)]
