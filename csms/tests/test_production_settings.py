"""Production settings through CSMS_* variables: `check --deploy` is clean with them, the
placeholder secret of .env.example is refused like the development key, HTTPS redirects
spare what stations and load balancers reach over plain HTTP, and the API document is built
once per process."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from csms.checks import dev_secret_key_in_production

ROOT = Path(settings.BASE_DIR)

PRODUCTION = {
    "CSMS_DEBUG": "false",
    "CSMS_ALLOWED_HOSTS": "csms.example.com",
    "CSMS_SECURE_SSL_REDIRECT": "true",
    "CSMS_SECURE_HSTS_SECONDS": "31536000",
    "CSMS_SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "CSMS_SECURE_HSTS_PRELOAD": "true",
    "CSMS_SECURE_COOKIES": "true",
}


def check_deploy(extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CSMS_")}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.update(extra)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_production_settings_set_through_csms_variables():
    done = check_deploy({**PRODUCTION, "CSMS_SECRET_KEY": secrets.token_urlsafe(50)})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


def test_check_deploy_names_what_is_missing_without_them():
    done = check_deploy({"CSMS_DEBUG": "false", "CSMS_SECRET_KEY": secrets.token_urlsafe(50)})
    assert done.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in done.stderr


def test_the_placeholder_secret_of_env_example_is_refused_like_the_development_key(settings):
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    placeholder = re.search(r"^CSMS_SECRET_KEY=(.+)$", example, re.M)[1].strip()
    settings.DEBUG = False
    for key in (placeholder, settings.DEV_SECRET_KEY):
        settings.SECRET_KEY = key
        assert [e.id for e in dev_secret_key_in_production(None)] == ["csms.E001"]
    settings.SECRET_KEY = secrets.token_urlsafe(50)
    assert dev_secret_key_in_production(None) == []


@pytest.mark.django_db
def test_https_redirect_spares_station_paths_and_health_checks(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    admin = client.get("/admin/")
    assert admin.status_code == 301 and admin["Location"].startswith("https://")
    assert client.get("/health").status_code == 200
    assert client.get("/ocpp/soap/1.6?wsdl").status_code == 200
    assert client.get("/files/firmware/no-such-token/fw.bin").status_code != 301


def test_the_api_document_is_built_once_per_process(monkeypatch):
    from drf_spectacular.generators import SchemaGenerator
    from rest_framework.test import APIClient

    from csms.api import schema

    built = []
    original = SchemaGenerator.get_schema

    def counting(self, *args, **kwargs):
        built.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SchemaGenerator, "get_schema", counting)
    monkeypatch.setattr(schema, "_schemas", {})
    client = APIClient()
    first = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    second = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert first.status_code == second.status_code == 200
    assert first.content == second.content and len(first.content) > 100_000
    assert len(built) == 1
