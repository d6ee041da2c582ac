"""Websocket consumers: thin, they authenticate, join groups and forward."""

from __future__ import annotations

import asyncio
import json
import secrets

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.utils import timezone

from tokens import crypto
from tokens.events import device_group, push_group, token_group
from tokens.selectors import token_states
from tokens.services.errors import ServiceError
from tokens.services.push import (
    device_authenticate,
    push_answer,
    push_expire_if_due,
    push_pending_payloads,
    push_status,
)

WATCH_SESSION_KEY = "tessera_watch_serials"
PUSH_SESSION_KEY = "tessera_push"
MAX_FRAME = 4096
ANSWER_FIELDS = {"type", "id", "serial", "decision", "number", "signature", "otp"}
AUTH_FIELDS = {"type", "serial", "signature"}


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

    async def receive(self, text_data=None, bytes_data=None):
        # Nothing is read from the page, so nothing is parsed (no crash on junk).
        await self.send_json({"type": "error", "detail": "This socket only sends."})

    async def token_state(self, event):
        await self.send_json(
            {"type": "token", "serial": event["serial"], "state": event["state"]}
        )


def _client_ip(scope) -> str | None:
    client = scope.get("client")
    return client[0] if client else None


class DeviceConsumer(AsyncJsonWebsocketConsumer):
    """PROTOCOL §4–§5: a device proves its tokens, then gets and answers pushes.

    Every frame is checked; a bad one gets an ``error`` frame, never a crash.
    A socket that fails authentication too often is closed.
    """

    MAX_TOKENS = 32
    MAX_FAILURES = 8

    async def connect(self):
        self.nonce = crypto.b64u_encode(secrets.token_bytes(32))
        self.serials: set[str] = set()
        self.challenges: set[str] = set()  # delivered, still open
        self.failures = 0
        await self.accept()
        await self.send_json({"type": "hello", "nonce": self.nonce})

    async def disconnect(self, code):
        for serial in getattr(self, "serials", ()):
            await self.channel_layer.group_discard(
                device_group(serial), self.channel_name
            )
        for challenge_id in getattr(self, "challenges", ()):
            await self.channel_layer.group_discard(
                push_group(challenge_id), self.channel_name
            )

    async def deliver(self, payload: dict):
        """Send a challenge, and follow it so the device hears when it closes."""
        if payload["id"] not in self.challenges:
            self.challenges.add(payload["id"])
            await self.channel_layer.group_add(
                push_group(payload["id"]), self.channel_name
            )
        await self.send_json(payload)

    async def receive(self, text_data=None, bytes_data=None):
        content = None
        if text_data is not None and len(text_data) <= MAX_FRAME:
            try:
                content = json.loads(text_data)
            except ValueError:
                content = None
        if not isinstance(content, dict):
            await self.error("invalid_frame", "Send one JSON object per frame.")
            return
        kind = content.get("type")
        if kind == "auth" and set(content) <= AUTH_FIELDS:
            await self.authenticate(content)
        elif kind == "answer" and set(content) <= ANSWER_FIELDS:
            await self.answer(content)
        else:
            await self.error("invalid_frame", "Expected an auth or answer message.")

    async def error(self, code: str, detail: str, **extra):
        await self.send_json(
            {"type": "error", "error": code, "detail": detail, **extra}
        )

    async def authenticate(self, content):
        serial = content.get("serial")
        if len(self.serials) >= self.MAX_TOKENS:
            await self.error("too_many_tokens", "Too many tokens on one socket.")
            return
        try:
            token = await database_sync_to_async(device_authenticate)(
                serial=serial,
                nonce=self.nonce,
                signature=content.get("signature"),
                ip=_client_ip(self.scope),
            )
        except ServiceError as exc:
            await self.fail(
                exc.code, exc.detail, serial=serial if isinstance(serial, str) else ""
            )
            return
        self.serials.add(token.serial)
        await self.channel_layer.group_add(
            device_group(token.serial), self.channel_name
        )
        await self.send_json({"type": "ready", "serial": token.serial})
        for payload in await database_sync_to_async(push_pending_payloads)(
            [token.serial]
        ):
            await self.deliver(payload)

    async def answer(self, content):
        ident = content.get("id")
        ident = ident if isinstance(ident, str) else ""
        if content.get("serial") not in self.serials:
            # Only a socket that proved the token's key may answer for it
            # here (an unauthenticated socket must not reach the database).
            await self.fail(
                "not_authenticated",
                "Authenticate this token on the socket before answering.",
                id=ident,
            )
            return
        try:
            result = await database_sync_to_async(push_answer)(
                challenge_id=content.get("id"),
                serial=content.get("serial"),
                decision=content.get("decision"),
                number=content.get("number"),
                signature=content.get("signature"),
                otp=content.get("otp"),
                source="device-ws",
                ip=_client_ip(self.scope),
            )
        except ServiceError as exc:
            if exc.code in ("invalid_signature", "invalid_request"):
                await self.fail(exc.code, exc.detail, id=ident)
            else:  # expired, already answered, wrong PIN: the user's business
                await self.error(exc.code, exc.detail, id=ident)
            return
        await self.send_json(result.as_frame())

    async def fail(self, code: str, detail: str, **extra):
        """An error that counts: too many close the socket."""
        self.failures += 1
        await self.error(code, detail, **extra)
        if self.failures >= self.MAX_FAILURES:
            await self.close(code=4403)

    async def push_challenge(self, event):
        await self.deliver(event["challenge"])

    async def push_state(self, event):
        if event["id"] in self.challenges:
            self.challenges.discard(event["id"])
            await self.channel_layer.group_discard(
                push_group(event["id"]), self.channel_name
            )
        await self.send_json(
            {"type": "challenge.closed", "id": event["id"], "state": event["state"]}
        )


class PushStatusConsumer(AsyncJsonWebsocketConsumer):
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
        state, expires_at = await database_sync_to_async(push_status)(self.challenge_id)
        await self.send_json({"type": "push", "state": state})
        if state == "pending" and expires_at is not None:
            self.timer = asyncio.create_task(self.expire_at(expires_at))

    async def expire_at(self, expires_at):
        await asyncio.sleep(max(0.0, (expires_at - timezone.now()).total_seconds()))
        await asyncio.sleep(0.05)
        state = await database_sync_to_async(push_expire_if_due)(self.challenge_id)
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
        message = {"type": "push", "state": event["state"]}
        if event.get("fraud"):
            message["fraud"] = True
        await self.send_json(message)


class EchoConsumer(AsyncJsonWebsocketConsumer):
    """A bare echo for bench/push.py's baseline; off unless TESSERA_WS_ECHO."""

    async def connect(self):
        if not getattr(settings, "TESSERA_WS_ECHO", False):
            await self.close(code=4404)
            return
        await self.accept()

    async def receive(self, text_data=None, bytes_data=None):
        await self.send(text_data=text_data, bytes_data=bytes_data)
