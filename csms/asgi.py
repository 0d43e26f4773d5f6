"""ASGI entry point: Django for HTTP; websockets for the live dashboard and the OCPP router."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csms.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from dashboard.routing import websocket_urlpatterns as dashboard_websocket_urlpatterns  # noqa: E402
from ocpp_router.routing import websocket_urlpatterns as ocpp_websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Specific routes first: the OCPP route is a catch-all and must stay last.
        "websocket": URLRouter([*dashboard_websocket_urlpatterns, *ocpp_websocket_urlpatterns]),
    }
)
