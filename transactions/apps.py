from django.apps import AppConfig


class TransactionsConfig(AppConfig):
    name = "transactions"
    verbose_name = "Transactions"

    def ready(self) -> None:
        from csms import events
        from transactions import ending

        events.subscribe(ending.on_event)
