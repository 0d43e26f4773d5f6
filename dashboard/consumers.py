"""The live dashboard's websocket: staff only, server -> browser events."""

from __future__ import annotations

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from dashboard.live import GROUP


class DashboardConsumer(AsyncJsonWebsocketConsumer):
    """Pushes station and transaction events to a logged-in staff member's dashboard page."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_staff:
            await self.close()
            return
        await self.channel_layer.group_add(GROUP, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(GROUP, self.channel_name)

    async def receive_json(self, content, **kwargs) -> None:
        # The page only listens; anything it sends is ignored.
        return

    async def dashboard_event(self, message: dict) -> None:
        await self.send_json(message["event"])

    async def dashboard_events(self, message: dict) -> None:
        """A burst of events, sent to the page one by one as single events are."""
        for event in message["events"]:
            await self.send_json(event)
