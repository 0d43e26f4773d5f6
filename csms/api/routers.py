from rest_framework.routers import SimpleRouter


class OptionalSlashRouter(SimpleRouter):
    """Routes that answer with or without the trailing slash (`/api/commands/7` too)."""

    def __init__(self) -> None:
        super().__init__()
        self.trailing_slash = "/?"
