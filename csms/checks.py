"""System checks that keep an unsafe configuration from reaching production."""

from django.conf import settings
from django.core.checks import Error, register


@register("security", deploy=False)
def dev_secret_key_in_production(app_configs, **kwargs):
    if not settings.DEBUG and settings.SECRET_KEY in settings.PLACEHOLDER_SECRET_KEYS:
        return [
            Error(
                "CSMS_SECRET_KEY is not set (or is the placeholder of .env.example) while "
                "CSMS_DEBUG is off.",
                hint="Set CSMS_SECRET_KEY to a long random value before running in production, "
                'e.g. python3 -c "import secrets; print(secrets.token_urlsafe(50))".',
                id="csms.E001",
            )
        ]
    return []


# INSERT ... RETURNING, ON CONFLICT (...) DO NOTHING: the transaction path (transactions.store)
MIN_SQLITE = (3, 35)


@register("database")
def sqlite_new_enough(app_configs, **kwargs):
    import sqlite3

    return sqlite_problems(settings.DATABASES, sqlite3.sqlite_version_info)


def sqlite_problems(databases, version_info):
    uses_sqlite = any(db["ENGINE"] == "django.db.backends.sqlite3" for db in databases.values())
    if uses_sqlite and tuple(version_info) < MIN_SQLITE:
        return [
            Error(
                f"SQLite {'.'.join(map(str, version_info))} is too old: the CSMS needs "
                f"{'.'.join(map(str, MIN_SQLITE))} or newer.",
                hint="Use a newer Python build or set DATABASE_URL to PostgreSQL.",
                id="csms.E002",
            )
        ]
    return []
