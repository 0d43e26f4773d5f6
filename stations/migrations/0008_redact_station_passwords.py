"""Station passwords in message-log rows stored before the rules covered them (NotifyReport,
NotifyEvent and SetNetworkProfile frames, names in another case) are redacted."""

from django.db import migrations

from stations.redaction import ACTIONS, redact

REDACTED_ENVELOPE = "(envelope not kept: it holds a password; see the redacted payload)"


def redact_message_log(apps, schema_editor):
    OcppMessage = apps.get_model("stations", "OcppMessage")
    rows = OcppMessage.objects.filter(action__in=ACTIONS).only("id", "action", "payload", "soap_xml")
    changed = []
    for row in rows.iterator(chunk_size=2000):
        redacted = redact(row.action, row.payload)
        if redacted is row.payload:
            continue
        row.payload = redacted
        if row.soap_xml:
            row.soap_xml = REDACTED_ENVELOPE
        changed.append(row)
        if len(changed) >= 500:
            OcppMessage.objects.bulk_update(changed, ["payload", "soap_xml"])
            changed = []
    if changed:
        OcppMessage.objects.bulk_update(changed, ["payload", "soap_xml"])


class Migration(migrations.Migration):
    dependencies = [("stations", "0007_message_log_answers_partial_index")]

    operations = [migrations.RunPython(redact_message_log, migrations.RunPython.noop)]
