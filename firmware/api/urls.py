from csms.api.routers import OptionalSlashRouter
from firmware.api import views

router = OptionalSlashRouter()
router.register("firmware/files", views.FirmwareFileViewSet, "firmware-file")
router.register("firmware/updates", views.FirmwareUpdateViewSet, "firmware-update")
router.register("firmware/publications", views.FirmwarePublicationViewSet, "firmware-publication")
router.register("log-requests", views.LogRequestViewSet, "log-request")

urlpatterns = router.urls
