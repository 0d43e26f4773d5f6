from rest_framework.routers import DefaultRouter

from integrations.api import views

router = DefaultRouter()
router.register("integrator-webhooks", views.IntegratorWebhookViewSet)
router.register("event-subscriptions", views.EventSubscriptionViewSet)
router.register("event-deliveries", views.EventDeliveryViewSet)

urlpatterns = router.urls
