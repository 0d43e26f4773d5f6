"""API permissions: no anonymous access; reading needs `view_*`, writing the model's perms.

Permissions of one app live in that app (`commands.api.permissions.CanSendCommands`)."""

from __future__ import annotations

from rest_framework.permissions import DjangoModelPermissions


class ModelPermissions(DjangoModelPermissions):
    """DRF's model permissions, with reads requiring the model's `view` permission too."""

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }
