"""CSMS_ENV_FILE: settings from a file of `NAME=value` lines (python-dotenv), beside the
process environment.

The process environment wins: a variable the process was started with is never taken from
the file. The file is read when the settings load, and again on SIGHUP (`reread`), where
`server_runtime.reload` applies what can change while running and names what needs a
restart; each worker `serve --workers` starts, on a reload too, reads it afresh.
"""

from __future__ import annotations

import os

from dotenv import dotenv_values

# The environment this process was started with, before any file was read.
_STARTED_WITH = dict(os.environ)
# What the file set in os.environ at its last reading.
_from_file: dict[str, str] = {}


def path() -> str:
    return _STARTED_WITH.get("CSMS_ENV_FILE", "")


def process_environment() -> dict[str, str]:
    """The environment without what the file set: what a new worker process starts with."""
    return dict(_STARTED_WITH)


def load() -> dict[str, tuple[str | None, str | None]]:
    """Read the file into os.environ; the variables it changed, as (old, new)."""
    file = path()
    values: dict[str, str] = {}
    if file:
        if not os.path.exists(file):
            raise FileNotFoundError(f"CSMS_ENV_FILE {file!r} does not exist")
        values = {
            name: value
            for name, value in dotenv_values(file).items()
            if value is not None and name not in _STARTED_WITH
        }
    changed: dict[str, tuple[str | None, str | None]] = {}
    for name in set(_from_file) | set(values):
        old, new = _from_file.get(name), values.get(name)
        if old == new:
            continue
        changed[name] = (old, new)
        if new is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = new
    _from_file.clear()
    _from_file.update(values)
    return changed


def restore(changed: dict[str, tuple[str | None, str | None]]) -> None:
    """Undo a `load` whose values were refused."""
    for name, (old, _new) in changed.items():
        if old is None:
            os.environ.pop(name, None)
            _from_file.pop(name, None)
        else:
            os.environ[name] = old
            _from_file[name] = old
