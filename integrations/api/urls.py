from csms.api.routers import OptionalSlashRouter
from integrations.api import views

router = OptionalSlashRouter()
router.register("integrator-webhooks", views.IntegratorWebhookViewSet)
router.register("event-subscriptions", views.EventSubscriptionViewSet)
router.register("event-deliveries", views.EventDeliveryViewSet)

urlpatterns = router.urls
