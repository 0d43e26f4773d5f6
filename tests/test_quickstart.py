"""The README's quick start, as written, on a fresh clone: the emulated stations charge, and
charge again when the emulator is run a second time after a power cut.

The clone installs its own virtualenv with `make run` (runtime dependencies only), from
pip's cache and the machine's wheelhouse as any fresh clone on this machine would; nothing is
shared with the checkout under test but the committed files.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from django.conf import settings

README = Path(settings.BASE_DIR) / "README.md"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def quick_start_lines() -> list[str]:
    """The commands of the README's emulator quick start, comments dropped."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Trying it with emulated stations") :]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, "the quick start has a sh block"
    return [line.split("#")[0].strip() for line in block[1].splitlines() if line.strip()]


def start(command: str, cwd: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        command,
        shell=True,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(process: subprocess.Popen[bytes]) -> str:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
    assert process.stdout is not None
    return process.stdout.read().decode(errors="replace")[-3000:]


def shell(clone: Path, env: dict[str, str], code: str) -> list[str]:
    """What `code` prints in the clone's own `manage.py shell`, split."""
    done = subprocess.run(
        [".venv/bin/python", "manage.py", "shell", "-c", code],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.stdout.split()


def stations_charged_since(clone: Path, env: dict[str, str], after_pk: int) -> tuple[int, int]:
    """(stations with a transaction after `after_pk` that has energy, the latest pk)."""
    code = (
        "from django.db.models import Max;from transactions.models import Transaction;"
        f"q=Transaction.objects.filter(pk__gt={after_pk}, energy_wh__gt=0);"
        "print(q.values('station').distinct().count(),"
        " Transaction.objects.aggregate(m=Max('pk'))['m'] or 0)"
    )
    first, second = shell(clone, env, code)[-2:]
    return int(first), int(second)


def charged(clone: Path, env: dict[str, str]) -> tuple[int, int]:
    """(transactions with energy, meter values) in the clone's own database."""
    code = (
        "from transactions.models import MeterValue, Transaction;"
        "print(Transaction.objects.filter(energy_wh__gt=0).count(), MeterValue.objects.count())"
    )
    first, second = shell(clone, env, code)[-2:]
    return int(first), int(second)


def kill(process: subprocess.Popen[bytes]) -> None:
    """As a power cut: no StopTransaction, no close frame."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)


@pytest.mark.timeout(600)
def test_readme_quick_start_charges_on_a_fresh_clone(tmp_path, capsys):
    lines = quick_start_lines()
    assert lines == ["make run", "make superuser", "make emulate"]
    port = free_port()
    # A new user's shell: the embedded defaults (no DATABASE_URL/REDIS_URL), another port
    # than 8000 (shared machine), the superuser's answers given to createsuperuser.
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_", "REDIS_", "CSMS_", "DJANGO_", "PYTEST"))
    }
    env.update(
        {
            "PORT": str(port),
            "PYTHONUNBUFFERED": "1",
            "DJANGO_SUPERUSER_USERNAME": "operator",
            "DJANGO_SUPERUSER_PASSWORD": "a-long-operator-password",
            "DJANGO_SUPERUSER_EMAIL": "operator@example.com",
        }
    )
    clone = tmp_path / "csms"
    began = time.monotonic()
    subprocess.run(["git", "clone", "-q", str(settings.BASE_DIR), str(clone)], check=True)

    server = start(lines[0], clone, env)
    emulate = None
    try:
        deadline = time.monotonic() + 400
        while True:
            assert server.poll() is None, stop(server)
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert time.monotonic() < deadline, stop(server)
                time.sleep(0.5)
        serving = time.monotonic() - began
        done = subprocess.run(lines[1], shell=True, cwd=clone, env=env, capture_output=True)
        assert done.returncode == 0, done.stdout + done.stderr
        emulate = start(lines[2], clone, env)
        deadline = time.monotonic() + 120
        while True:
            assert emulate.poll() is None, stop(emulate)
            sessions, meter_values = charged(clone, env)
            if sessions and meter_values:
                break
            assert time.monotonic() < deadline, stop(emulate)
            time.sleep(2)
        first_session = time.monotonic() - began
        # The stations lose power mid-session, and `make emulate` is run again as written:
        # every station charges again at once (its ghost transaction ended by the CSMS, its
        # card not answered ConcurrentTx).
        kill(emulate)
        _, latest = stations_charged_since(clone, env, 0)
        emulate = start(lines[2], clone, env)
        deadline = time.monotonic() + 120
        while True:
            assert emulate.poll() is None, stop(emulate)
            stations, _ = stations_charged_since(clone, env, latest)
            if stations == 20:
                break
            assert time.monotonic() < deadline, f"{stations} of 20 charged: " + stop(emulate)
            time.sleep(2)
    finally:
        if emulate is not None:
            summary = stop(emulate)
        stop(server)
    assert "Id tags: TAG-EMU-1" in summary and "Accepted in this CSMS's database" in summary
    with capsys.disabled():
        print(
            f"\nquick start: serving {serving:.0f} s after git clone, first charging session "
            f"with energy stored {first_session:.0f} s after git clone"
        )
