"""Integrators' credentials (Basic password, Bearer token) and event subscriptions' signing keys
are stored encrypted (csms.encryption): the columns become text, the values stored so far are
encrypted, then the fields encrypt and decrypt themselves."""

from django.db import migrations, models

import csms.encryption

SECRETS = {"integratorwebhook": ("password", "token"), "eventsubscription": ("secret",)}


def _convert(apps, convert):
    for model_name, fields in SECRETS.items():
        model = apps.get_model("integrations", model_name)
        for row in model.objects.values("pk", *fields):
            changed = {name: convert(row[name]) for name in fields if row[name]}
            if changed:
                model.objects.filter(pk=row["pk"]).update(**changed)


def encrypt_stored(apps, schema_editor):
    _convert(apps, csms.encryption.encrypt)


def decrypt_stored(apps, schema_editor):
    _convert(apps, csms.encryption.decrypt)


def _plain(help_text, blank=True):
    return models.TextField(blank=blank, help_text=help_text)


def _encrypted(help_text, blank=True):
    return csms.encryption.EncryptedTextField(blank=blank, help_text=help_text)


BASIC, BEARER = "For Basic auth.", "For Bearer auth."
SIGNATURE = "Key of the HMAC-SHA256 signature in X-CSMS-Signature."


class Migration(migrations.Migration):

    dependencies = [
        ('integrations', '0003_durable_deliveries'),
    ]

    operations = [
        migrations.AlterField('integratorwebhook', 'password', _plain(BASIC)),
        migrations.AlterField('integratorwebhook', 'token', _plain(BEARER)),
        migrations.AlterField('eventsubscription', 'secret', _plain(SIGNATURE, blank=False)),
        migrations.RunPython(encrypt_stored, decrypt_stored),
        migrations.AlterField('integratorwebhook', 'password', _encrypted(BASIC)),
        migrations.AlterField('integratorwebhook', 'token', _encrypted(BEARER)),
        migrations.AlterField('eventsubscription', 'secret', _encrypted(SIGNATURE, blank=False)),
    ]
