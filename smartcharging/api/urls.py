from csms.api.routers import OptionalSlashRouter
from smartcharging.api.views import (
    ChargingLimitViewSet,
    ChargingProfileViewSet,
    CompositeScheduleViewSet,
    EvChargingNeedsViewSet,
    EvChargingScheduleViewSet,
    GrantViewSet,
    SiteViewSet,
)

router = OptionalSlashRouter()
router.register("charging-profiles", ChargingProfileViewSet, "charging-profile")
router.register("composite-schedules", CompositeScheduleViewSet, "composite-schedule")
router.register("charging-limits", ChargingLimitViewSet, "charging-limit")
router.register("ev-charging-needs", EvChargingNeedsViewSet, "ev-charging-needs")
router.register("ev-charging-schedules", EvChargingScheduleViewSet, "ev-charging-schedule")
router.register("sites", SiteViewSet, "site")
router.register("grants", GrantViewSet, "grant")

urlpatterns = router.urls
