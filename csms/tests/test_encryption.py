"""Stored secrets (csms.encryption): the key from the settings or derived from the secret key,
rotation, and the migration that encrypted the values stored before."""

from __future__ import annotations

import io

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from csms import encryption
from integrations.models import EventSubscription, IntegratorWebhook


def _raw(table: str, column: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table}")
        return [row[0] for row in cursor.fetchall()]


def test_without_a_key_the_key_is_derived_from_the_secret_key(settings):
    settings.CSMS_FIELD_ENCRYPTION_KEY = ""
    settings.SECRET_KEY = "first-secret-key-" + "x" * 40
    token = encryption.encrypt("hunter2-hunter2")
    assert "hunter2" not in token
    assert encryption.decrypt(token) == "hunter2-hunter2"
    # A new secret key with the old one kept as a fallback still reads it.
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "second-" + "y" * 40, [settings.SECRET_KEY]
    assert encryption.decrypt(token) == "hunter2-hunter2"
    settings.SECRET_KEY_FALLBACKS = []
    with pytest.raises(encryption.Undecryptable):
        encryption.decrypt(token)


@pytest.mark.django_db
def test_a_new_key_first_reads_old_values_and_rotation_moves_them_to_it(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.CSMS_FIELD_ENCRYPTION_KEY = old
    IntegratorWebhook.objects.create(
        name="rotated", url="https://example.com/x", auth_type="bearer", token="tok-123456"
    )
    settings.CSMS_FIELD_ENCRYPTION_KEY = f"{new},{old}"
    assert IntegratorWebhook.objects.get(name="rotated").token == "tok-123456"
    call_command("rotate_field_encryption", stdout=io.StringIO())
    settings.CSMS_FIELD_ENCRYPTION_KEY = new
    assert IntegratorWebhook.objects.get(name="rotated").token == "tok-123456"
    [stored] = _raw("integrations_integratorwebhook", "token")
    assert Fernet(new.encode()).decrypt(stored.encode()) == b"tok-123456"


@pytest.mark.django_db(transaction=True)
def test_the_migration_encrypts_credentials_stored_in_plain_text():
    call_command("migrate", "integrations", "0003", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO integrations_integratorwebhook (name, enabled, url, actions, versions,"
            " auth_type, username, password, token, timeout, on_failure, priority, created,"
            " updated) VALUES ('old', %s, 'https://example.com/', '[]', '[]', 'basic', 'u',"
            " 'plain-password-1', '', 5, 'fallback', 0, %s, %s)",
            [True, "2026-12-01T00:00:00Z", "2026-12-01T00:00:00Z"],
        )
        cursor.execute(
            "INSERT INTO integrations_eventsubscription (name, enabled, url, secret, events,"
            " ocpp_actions, max_attempts, timeout, created, updated) VALUES ('old', %s,"
            " 'https://example.com/', 'plain-signing-key', '[]', '[]', 5, 10, %s, %s)",
            [True, "2026-12-01T00:00:00Z", "2026-12-01T00:00:00Z"],
        )
    call_command("migrate", "integrations", verbosity=0)
    assert "plain-password-1" not in _raw("integrations_integratorwebhook", "password")[0]
    assert "plain-signing-key" not in _raw("integrations_eventsubscription", "secret")[0]
    webhook = IntegratorWebhook.objects.get(name="old")
    assert (webhook.password, webhook.token) == ("plain-password-1", "")
    assert EventSubscription.objects.get(name="old").secret == "plain-signing-key"
