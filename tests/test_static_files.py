"""The admin's static files are served by the CSMS itself in production (DEBUG off)."""

from django.core.management import call_command
from django.test import Client


def test_collected_static_files_are_served_with_debug_off(settings, tmp_path):
    settings.STATIC_ROOT = tmp_path
    call_command("collectstatic", interactive=False, verbosity=0)
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["testserver"]
    response = Client().get("/static/admin/css/base.css")
    assert response.status_code == 200
    assert b"body" in b"".join(response.streaming_content)
