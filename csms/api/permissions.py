"""API permissions: no anonymous access; reading needs `view_*`, writing the model's perms."""

from __future__ import annotations

from rest_framework.permissions import BasePermission, DjangoModelPermissions

from commands.groups import SEND_COMMAND


class ModelPermissions(DjangoModelPermissions):
    """DRF's model permissions, with reads requiring the model's `view` permission too."""

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }


class CanSendCommands(BasePermission):
    """Sending OCPP calls to stations is for operators (`commands.send_command`)."""

    message = "You may read but not send commands (permission commands.send_command)."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm(SEND_COMMAND))
