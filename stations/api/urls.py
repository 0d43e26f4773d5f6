from csms.api.routers import OptionalSlashRouter
from stations.api import views

router = OptionalSlashRouter()
router.register("stations", views.ChargingStationViewSet, basename="station")
router.register("evses", views.EvseViewSet, basename="evse")
router.register("connectors", views.ConnectorViewSet, basename="connector")
router.register("boots", views.BootNotificationViewSet, basename="boot")
router.register("messages", views.OcppMessageViewSet, basename="message")
router.register("security-events", views.SecurityEventViewSet, basename="security-event")

urlpatterns = router.urls
