from csms.api.routers import OptionalSlashRouter
from devicemodel.api import views

router = OptionalSlashRouter()
router.register("device-model/components", views.ComponentViewSet, "component")
router.register("device-model/variables", views.VariableViewSet, "variable")
router.register("device-model/attributes", views.VariableAttributeViewSet, "variable-attribute")
router.register(
    "device-model/variable-operations", views.VariableOperationViewSet, "variable-operation"
)
router.register("device-model/reports", views.ReportRequestViewSet, "report-request")
router.register("device-model/monitors", views.VariableMonitorViewSet, "variable-monitor")
router.register(
    "device-model/monitoring-settings", views.MonitoringSettingViewSet, "monitoring-setting"
)
router.register("device-model/events", views.DeviceEventViewSet, "device-event")
router.register("configuration-keys", views.ConfigurationKeyViewSet, "configuration-key")
router.register("display-messages", views.DisplayMessageViewSet, "display-message")
router.register("data-transfers", views.DataTransferMessageViewSet, "data-transfer")
router.register(
    "periodic-event-streams", views.PeriodicEventStreamViewSet, basename="periodic-event-stream"
)
router.register(
    "periodic-event-stream-values",
    views.PeriodicEventStreamValueViewSet,
    basename="periodic-event-stream-value",
)

urlpatterns = router.urls
