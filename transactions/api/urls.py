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

urlpatterns = router.urls
