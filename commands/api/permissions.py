"""Who may send OCPP calls through the message API."""

from __future__ import annotations

from rest_framework.permissions import BasePermission

from commands.groups import SEND_COMMAND


class CanSendCommands(BasePermission):
    """Sending OCPP calls to stations is for operators (`commands.send_command`)."""

    message = "You may read but not send commands (permission commands.send_command)."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm(SEND_COMMAND))
