from csms.api.routers import OptionalSlashRouter
from transactions.api import views

router = OptionalSlashRouter()
router.register("id-tokens", views.IdTokenViewSet, basename="id-token")
router.register("transactions", views.TransactionViewSet, basename="transaction")
router.register("meter-values", views.MeterValueViewSet, basename="meter-value")
router.register("reservations", views.ReservationViewSet, basename="reservation")
router.register("tariffs", views.TariffViewSet, basename="tariff")
router.register("remote-starts", views.RemoteStartViewSet, basename="remote-start")
router.register("local-auth-lists", views.LocalAuthListViewSet, basename="local-auth-list")
router.register(
    "local-auth-list-entries", views.LocalAuthListEntryViewSet, basename="local-auth-list-entry"
)
router.register("battery-swaps", views.BatterySwapViewSet, basename="battery-swap")
router.register("settlements", views.SettlementViewSet, basename="settlement")
router.register("vat-number-checks", views.VatNumberCheckViewSet, basename="vat-number-check")
router.register("web-payments", views.WebPaymentViewSet, basename="web-payment")
router.register("station-tariffs", views.StationTariffViewSet, basename="station-tariff")

urlpatterns = router.urls
