"""Sockets with nothing to do: a path without a route, and an echo for the
benchmarks."""

from __future__ import annotations

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from tokens.dispatch import DirectDispatch


class NoRouteConsumer(DirectDispatch, AsyncJsonWebsocketConsumer):
    """Any websocket path without a route: the handshake is refused (403),
    instead of the router's exception closing it with a 500."""

    async def connect(self):
        await self.close()


class EchoConsumer(DirectDispatch, AsyncJsonWebsocketConsumer):
    """A bare echo for bench/push.py's baseline; off unless TESSERA_WS_ECHO."""

    async def connect(self):
        if not getattr(settings, "TESSERA_WS_ECHO", False):
            await self.close(code=4404)
            return
        await self.accept()

    async def receive(self, text_data=None, bytes_data=None):
        await self.send(text_data=text_data, bytes_data=bytes_data)
