from channels.auth import AuthMiddlewareStack
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import re_path

from dashboard.consumers import DashboardConsumer

# The session stack and the origin check wrap this route only: stations send no Origin
# header and no cookie, and the OCPP route must stay free of both.
websocket_urlpatterns = [
    re_path(
        r"^dashboard/ws/$",
        AllowedHostsOriginValidator(AuthMiddlewareStack(DashboardConsumer.as_asgi())),
    ),
]
