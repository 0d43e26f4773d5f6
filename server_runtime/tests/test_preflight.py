"""`serve` and `runserver` stop at once, naming the fix, when they cannot serve."""

import re
import socket
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.management import get_commands
from django.core.management.base import CommandError
from django.test import override_settings

from server_runtime import preflight


def closed_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


def test_runserver_is_the_csms_server():
    # Neither Django's nor stock Daphne's runserver: ours, which is `serve`.
    assert get_commands()["runserver"] == "server_runtime"


def test_runserver_takes_django_style_addrport(monkeypatch):
    from django.core.management import call_command

    seen = {}
    monkeypatch.setattr(
        "server_runtime.management.commands.serve.Command.supervise",
        lambda self, options: seen.update(options),
    )
    call_command("runserver", "0.0.0.0:8123", "--workers", "2")
    assert (seen["bind"], seen["port"]) == ("0.0.0.0", 8123)


def test_port_in_use_is_refused_with_the_fix():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    try:
        with pytest.raises(CommandError, match=rf"port {port} .* in use.*--port {port + 1}"):
            preflight.port_free("127.0.0.1", port)
    finally:
        listener.close()


def test_redis_url_set_but_redis_down_is_refused_with_the_fix():
    port = closed_port()
    with (
        override_settings(REDIS_URL=f"redis://127.0.0.1:{port}/0"),
        pytest.raises(CommandError, match=r"Redis does not answer.*unset REDIS_URL"),
    ):
        preflight.redis_ready()


@pytest.mark.parametrize(
    ("database_url", "expected"),
    [
        ("sqlite:///{tmp}/empty.sqlite3", "not migrated.*make migrate"),
        ("postgres://postgres@127.0.0.1:{closed}/none", "cannot reach the database.*DATABASE_URL"),
    ],
    ids=["unmigrated", "unreachable"],
)
def test_serve_exits_non_zero_naming_the_database_fix(tmp_path, database_url, expected):
    url = database_url.format(tmp=tmp_path, closed=closed_port())
    done = subprocess.run(
        [sys.executable, "manage.py", "runserver", "127.0.0.1:0"],
        cwd=settings.BASE_DIR,
        env={"PATH": "/usr/bin:/bin", "DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert re.search(expected, done.stderr), done.stderr
    assert "Traceback" not in done.stderr
