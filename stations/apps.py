from django.apps import AppConfig


class StationsConfig(AppConfig):
    name = "stations"
    verbose_name = "Charging stations"

    def ready(self) -> None:
        from ocpp_router.registry import add_message_sink, set_connection_gate
        from server_runtime.nodes import add_node_sweeper
        from stations import services
        from stations.connection import StationGate
        from stations.message_log import message_log

        set_connection_gate(StationGate())
        add_message_sink(message_log)
        add_node_sweeper(
            "stations offline",
            lambda live, before: services.station_sweep_offline(
                live_channel_prefixes=live, connected_before=before
            ),
        )
