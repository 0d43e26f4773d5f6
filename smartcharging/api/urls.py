from csms.api.routers import OptionalSlashRouter
from smartcharging.api.views import (
    ChargingLimitViewSet,
    ChargingProfileViewSet,
    CompositeScheduleViewSet,
    DERControlViewSet,
    DEREventViewSet,
    DynamicScheduleUpdateViewSet,
    EvChargingNeedsViewSet,
    EvChargingScheduleViewSet,
    GrantViewSet,
    GridSignalViewSet,
    PriorityChargingViewSet,
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
router.register("der-controls", DERControlViewSet, basename="der-control")
router.register("der-events", DEREventViewSet, basename="der-event")
router.register(
    "dynamic-schedule-updates",
    DynamicScheduleUpdateViewSet,
    basename="dynamic-schedule-update",
)
router.register("priority-chargings", PriorityChargingViewSet, basename="priority-charging")
router.register("grid-signals", GridSignalViewSet, basename="grid-signal")

urlpatterns = router.urls
