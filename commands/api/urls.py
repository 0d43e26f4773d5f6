from django.urls import path

from commands import conveniences
from commands.api import views
from csms.api.routers import OptionalSlashRouter

router = OptionalSlashRouter()
router.register("commands", views.CommandViewSet, basename="command")

urlpatterns = [
    path("commands/fan-out", views.FanOutView.as_view(), name="command-fan-out"),
    path(
        "stations/<str:station_id>/commands/<str:action>",
        views.CommandSendView.as_view(),
        name="station-command",
    ),
    *(
        path(
            f"stations/<str:station_id>/{operation}",
            views.operation_view(operation).as_view(),
            name=f"station-{operation}",
        )
        for operation in conveniences.OPERATIONS
    ),
    *router.urls,
]
