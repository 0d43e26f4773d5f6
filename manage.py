#!/usr/bin/env python
"""Django's command-line utility for the CSMS."""

import os
import sys
from pathlib import Path


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csms.settings")
    try:
        from django.core.management import execute_from_command_line
    except ImportError as exc:
        venv = Path(__file__).resolve().parent / ".venv" / "bin" / "python"
        hint = (
            f" This checkout has one: run `{venv.relative_to(Path.cwd())} manage.py ...`."
            if venv.exists() and venv.is_relative_to(Path.cwd())
            else " `make run` creates one in .venv."
        )
        raise ImportError(
            "Couldn't import Django. Are you sure it's installed and "
            "available on your PYTHONPATH environment variable? Did you "
            "forget to activate a virtual environment?" + hint
        ) from exc
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
