"""Encrypt every stored secret again with the first CSMS_FIELD_ENCRYPTION_KEY (csms.encryption):
run after putting a new key first, before dropping the old one."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction

from csms.encryption import EncryptedTextField


class Command(BaseCommand):
    help = "Encrypt every stored secret again with the first CSMS_FIELD_ENCRYPTION_KEY."

    def handle(self, *args: Any, **options: Any) -> None:
        for model in apps.get_models():
            names = [f.name for f in model._meta.fields if isinstance(f, EncryptedTextField)]
            if not names:
                continue
            count = 0
            with transaction.atomic():
                # Read (any listed key decrypts), written back (the first key encrypts).
                for row in model._base_manager.select_for_update().only("pk", *names):
                    row.save(update_fields=names)
                    count += 1
            self.stdout.write(f"{model._meta.label}: {count} rows encrypted with the first key")
