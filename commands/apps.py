from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CommandsConfig(AppConfig):
    name = "commands"
    verbose_name = "OCPP commands"

    def ready(self) -> None:
        from commands import services
        from commands.groups import sync_api_groups
        from server_runtime.nodes import add_node_sweeper

        add_node_sweeper(
            "commands failed",
            lambda live, before: services.command_sweep_orphaned(
                live_channel_prefixes=live, before=before
            ),
        )

        # After every migrate (and every test-database flush): permissions of apps added
        # later land in the groups without a migration of their own.
        post_migrate.connect(sync_api_groups, dispatch_uid="commands.sync_api_groups")
