from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from csms import events
        from integrations import config, delivery, integrator
        from integrations.models import EventSubscription, IntegratorWebhook
        from ocpp_router.registry import add_call_interceptor, add_message_sink

        add_call_interceptor(integrator.intercept, claims=integrator.claims)
        events.subscribe(delivery.worker.enqueue_event)
        add_message_sink(delivery.worker)
        # The per-message path reads webhook settings from memory: drop the cache whenever
        # they change in this process (other processes reload after CSMS_WEBHOOK_CONFIG_TTL).
        for model in (IntegratorWebhook, EventSubscription):
            post_save.connect(config.invalidate, sender=model, dispatch_uid=f"{model}-saved")
            post_delete.connect(config.invalidate, sender=model, dispatch_uid=f"{model}-deleted")
