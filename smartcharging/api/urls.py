from rest_framework.routers import DefaultRouter

from smartcharging.api.views import (
    ChargingLimitViewSet,
    ChargingProfileViewSet,
    CompositeScheduleViewSet,
)

router = DefaultRouter()
router.register("charging-profiles", ChargingProfileViewSet)
router.register("composite-schedules", CompositeScheduleViewSet)
router.register("charging-limits", ChargingLimitViewSet)

urlpatterns = router.urls
