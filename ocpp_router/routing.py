from django.urls import re_path

from ocpp_router.consumers import OcppConsumer

# Stations connect at /ocpp/<station_id> or /<station_id>; the consumer reads the id from the
# raw path itself (an id may hold percent-encoded characters) and refuses what it cannot use.
websocket_urlpatterns = [
    re_path(r"", OcppConsumer.as_asgi()),
]
