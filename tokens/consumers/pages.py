"""Sockets of the portal's pages: a token's activation state, a login's push.

They act for the session in the cookie, never for what the page sends."""

from __future__ import annotations

import asyncio

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.utils import timezone

from tokens.dispatch import DirectDispatch
from tokens.events import ENDS_GROUP, push_group, token_group
from tokens.selectors import token_states
from tokens.services.push import (
    push_expire_if_due,
    push_status,
)
from tokens.threads import on_db_thread

WATCH_SESSION_KEY = "tessera_watch_serials"
PUSH_SESSION_KEY = "tessera_push"


class TokenStatusConsumer(DirectDispatch, AsyncJsonWebsocketConsumer):
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
        for serial, state in (await on_db_thread(token_states)(self.serials)).items():
            await self.send_json({"type": "token", "serial": serial, "state": state})

    async def disconnect(self, code):
        for serial in getattr(self, "serials", []):
            await self.channel_layer.group_discard(
                token_group(serial), self.channel_name
            )

    async def receive(self, text_data=None, bytes_data=None):
        # Nothing is read from the page, so nothing is parsed (no crash on junk).
        await self.send_json({"type": "error", "detail": "This socket only sends."})

    async def token_state(self, event):
        await self.send_json(
            {"type": "token", "serial": event["serial"], "state": event["state"]}
        )


class PushStatusConsumer(DirectDispatch, AsyncJsonWebsocketConsumer):
    """The login page follows its push: the challenge id comes from the
    session (set when the password was right), never from the client."""

    async def connect(self):
        session = self.scope.get("session")
        pending = session.get(PUSH_SESSION_KEY) if session is not None else None
        if not isinstance(pending, dict) or not pending.get("id"):
            await self.close(code=4403)
            return
        self.challenge_id = pending["id"]
        self.group = push_group(self.challenge_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        state, expires_at = await on_db_thread(push_status)(self.challenge_id)
        await self.send_json({"type": "push", "state": state})
        if state == "pending" and expires_at is not None:
            self.timer = asyncio.create_task(self.expire_at(expires_at))

    async def expire_at(self, expires_at):
        await asyncio.sleep(max(0.0, (expires_at - timezone.now()).total_seconds()))
        await asyncio.sleep(0.05)
        state = await on_db_thread(push_expire_if_due)(self.challenge_id)
        if state == "expired":
            await self.send_json({"type": "push", "state": state})

    async def disconnect(self, code):
        if getattr(self, "timer", None):
            self.timer.cancel()
        if getattr(self, "group", None):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        # Nothing is read from the page, so nothing is parsed (no crash on junk).
        await self.send_json({"type": "error", "detail": "This socket only sends."})

    async def push_state(self, event):
        if event.get(ENDS_GROUP):
            self.group = None  # gone with this message: nothing to leave
        message = {"type": "push", "state": event["state"]}
        if event.get("fraud"):
            message["fraud"] = True
        await self.send_json(message)
