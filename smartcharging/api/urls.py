from csms.api.routers import OptionalSlashRouter
from smartcharging.api.views import (
    ChargingLimitViewSet,
    ChargingProfileViewSet,
    CompositeScheduleViewSet,
)

router = OptionalSlashRouter()
router.register("charging-profiles", ChargingProfileViewSet)
router.register("composite-schedules", CompositeScheduleViewSet)
router.register("charging-limits", ChargingLimitViewSet)

urlpatterns = router.urls
