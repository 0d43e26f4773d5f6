from csms.api.routers import OptionalSlashRouter
from integrations.api import views

router = OptionalSlashRouter()
router.register("integrator-webhooks", views.IntegratorWebhookViewSet, "integrator-webhook")
router.register("event-subscriptions", views.EventSubscriptionViewSet, "event-subscription")
router.register("event-deliveries", views.EventDeliveryViewSet, "event-delivery")

urlpatterns = router.urls
