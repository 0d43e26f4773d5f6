from rest_framework.routers import DefaultRouter

from firmware.api import views

router = DefaultRouter()
# The project mounts several routers under api/: one root view is enough.
router.include_root_view = False
router.register("firmware/files", views.FirmwareFileViewSet, "firmware-file")
router.register("firmware/updates", views.FirmwareUpdateViewSet, "firmware-update")
router.register("firmware/publications", views.FirmwarePublicationViewSet, "firmware-publication")
router.register("log-requests", views.LogRequestViewSet, "log-request")

urlpatterns = router.urls
