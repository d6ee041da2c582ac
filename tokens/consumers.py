"""Websocket consumers: thin, they authenticate, join groups and forward."""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from tokens.events import token_group
from tokens.selectors import token_states

WATCH_SESSION_KEY = "tessera_watch_serials"


class TokenStatusConsumer(AsyncJsonWebsocketConsumer):
    """Follows the tokens this browser session was shown an activation for.

    The serials come from the session (set by the page that displayed the QR
    code), never from the client, so a page cannot watch someone else's token.
    """

    async def connect(self):
        session = self.scope.get("session")
        serials = (
            list(session.get(WATCH_SESSION_KEY, [])) if session is not None else []
        )
        if not serials:
            await self.close(code=4403)
            return
        self.serials = serials[-5:]
        for serial in self.serials:
            await self.channel_layer.group_add(token_group(serial), self.channel_name)
        await self.accept()
        for serial, state in (
            await database_sync_to_async(token_states)(self.serials)
        ).items():
            await self.send_json({"type": "token", "serial": serial, "state": state})

    async def disconnect(self, code):
        for serial in getattr(self, "serials", []):
            await self.channel_layer.group_discard(
                token_group(serial), self.channel_name
            )

    async def receive_json(self, content, **kwargs):
        await self.send_json({"type": "error", "detail": "This socket only sends."})

    async def token_state(self, event):
        await self.send_json(
            {"type": "token", "serial": event["serial"], "state": event["state"]}
        )
