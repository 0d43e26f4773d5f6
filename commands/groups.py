"""The two API roles, as Django groups kept in step with the project's models.

- Viewers: may read every entity of the project's apps (`view_*`).
- Operators: Viewers, plus add/change/delete of those entities and `commands.send_command`.

Users get a role by joining a group (admin, or `manage.py shell`); superusers have all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.apps import apps as global_apps
from django.conf import settings

VIEWERS = "Viewers"
OPERATORS = "Operators"
SEND_COMMAND = "commands.send_command"


def project_app_labels() -> list[str]:
    """Labels of the apps that live in this repository (not Django's or third parties')."""
    base = Path(settings.BASE_DIR).resolve()
    return [
        config.label
        for config in global_apps.get_app_configs()
        if Path(config.path).resolve().is_relative_to(base)
        and not Path(config.path).resolve().is_relative_to(base / ".venv")
    ]


def sync_api_groups(apps: Any = global_apps, **kwargs: Any) -> None:
    """Create the Viewers and Operators groups and give them the project's permissions."""
    try:
        group_model = apps.get_model("auth", "Group")
        permission_model = apps.get_model("auth", "Permission")
    except LookupError:
        return
    using = kwargs.get("using", "default")
    labels = project_app_labels()
    permissions = permission_model.objects.using(using).filter(content_type__app_label__in=labels)
    view = list(permissions.filter(codename__startswith="view_"))
    write = list(
        permissions.filter(codename__regex=r"^(add|change|delete)_")
        | permissions.filter(content_type__app_label="commands", codename="send_command")
    )
    viewers, _ = group_model.objects.using(using).get_or_create(name=VIEWERS)
    operators, _ = group_model.objects.using(using).get_or_create(name=OPERATORS)
    viewers.permissions.add(*view)
    operators.permissions.add(*view, *write)
