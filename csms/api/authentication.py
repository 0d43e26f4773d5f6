"""API token authentication under the failed-authentication limits (csms.auth_limits)."""

from __future__ import annotations

from typing import Any

from rest_framework import authentication, exceptions
from rest_framework.request import Request

from csms import auth_limits


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's `Authorization: Token <key>`; a source address that sent too many wrong tokens
    is answered 429 with Retry-After until its lockout ends, the right token included."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        meta = request.META
        limited = auth_limits.keys(
            auth_limits.API_TOKEN,
            address=auth_limits.client_address(
                meta.get("REMOTE_ADDR", ""), meta.get("HTTP_X_FORWARDED_FOR", "")
            ),
        )
        wait = auth_limits.retry_after(limited)
        if wait:
            raise exceptions.Throttled(
                wait, detail="Too many wrong tokens from this address: try again later."
            )
        try:
            return super().authenticate(request)
        except exceptions.AuthenticationFailed:
            auth_limits.failed(limited)
            raise
