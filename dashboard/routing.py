from __future__ import annotations

from urllib.parse import urlsplit

from channels.auth import AuthMiddlewareStack
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.urls import re_path

from dashboard.consumers import DashboardConsumer


class SameOriginValidator:
    """Refuse a browser websocket opened from another site (cross-site websocket hijacking).

    The socket carries the operator's session cookie, so a page elsewhere must not open it:
    the Origin's host must be the Host the browser connected to, or one of
    CSRF_TRUSTED_ORIGINS. A client that sends no Origin is not a browser, and a browser is
    what a hijack needs; it is let through to the session check.
    """

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        headers = dict(scope.get("headers") or [])
        origin = headers.get(b"origin", b"").decode("latin-1")
        host = headers.get(b"host", b"").decode("latin-1")
        if origin and not self.allowed(origin, host):
            denier = WebsocketDenier()
            return await denier(scope, receive, send)
        return await self.application(scope, receive, send)

    @staticmethod
    def allowed(origin: str, host: str) -> bool:
        if origin in settings.CSRF_TRUSTED_ORIGINS:
            return True
        netloc = urlsplit(origin).netloc
        return bool(netloc) and netloc.lower() == host.lower()


# The session stack and the origin check wrap this route only: stations send no Origin
# header and no cookie, and the OCPP route must stay free of both.
websocket_urlpatterns = [
    re_path(
        r"^dashboard/ws/$",
        SameOriginValidator(AuthMiddlewareStack(DashboardConsumer.as_asgi())),
    ),
]
