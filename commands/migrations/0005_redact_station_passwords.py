"""Station passwords in command records stored before the rules covered them (SetNetworkProfile,
names in another case, answers of refused calls) are redacted."""

from django.db import migrations

from stations.redaction import ACTIONS, redact


def redact_commands(apps, schema_editor):
    Command = apps.get_model("commands", "Command")
    for command in Command.objects.filter(action__in=ACTIONS).iterator():
        request = redact(command.action, command.request)
        response = redact(command.action, command.response)
        if request is not command.request or response is not command.response:
            command.request, command.response = request, response
            command.save(update_fields=["request", "response"])


class Migration(migrations.Migration):
    dependencies = [("commands", "0004_command_batch")]

    operations = [migrations.RunPython(redact_commands, migrations.RunPython.noop)]
