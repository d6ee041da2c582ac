"""Websocket consumers: thin, they authenticate, join groups and forward."""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.utils import timezone

from tokens import crypto
from tokens.addresses import scope_ip
from tokens.dispatch import DirectDispatch
from tokens.events import device_group, push_group, token_group
from tokens.selectors import token_states
from tokens.services.audit import audit_record
from tokens.services.errors import ServiceError
from tokens.services.push import (
    device_authenticate,
    push_answer,
    push_expire_if_due,
    push_pending_payloads,
    push_status,
)
from tokens.services.tokeninfo import token_info as signed_token_info
from tokens.wire import loads_bounded

WATCH_SESSION_KEY = "tessera_watch_serials"
PUSH_SESSION_KEY = "tessera_push"
MAX_FRAME = 4096
ANSWER_FIELDS = {
    "type",
    "id",
    "serial",
    "decision",
    "number",
    "signature",
    "otp",
    "webauthn",
}
AUTH_FIELDS = {"type", "serial", "signature", "info"}


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


def frame_problem(content) -> str | None:
    """Why a device frame (already a JSON object) is refused, or None.

    Every field is text, except ``number`` (a whole number, ``""`` or null)
    and ``otp`` (text or null): a list or an object where text belongs must
    get an error frame, not reach a set lookup or the database.
    """
    kind = content.get("type")
    allowed = AUTH_FIELDS if kind == "auth" else ANSWER_FIELDS
    if kind not in ("auth", "answer") or not set(content) <= allowed:
        return "Expected an auth or answer message."
    for name, value in content.items():
        if name == "number":
            ok = value in (None, "") or (
                isinstance(value, int) and not isinstance(value, bool)
            )
        elif name == "otp":
            ok = value is None or isinstance(value, str)
        elif name == "webauthn":
            ok = value is None or isinstance(value, dict)
        elif name == "info":
            ok = isinstance(value, bool)
        else:
            ok = isinstance(value, str)
        if not ok:
            return f"{name} has the wrong type."
    return None


class DeviceConsumer(DirectDispatch, AsyncJsonWebsocketConsumer):
    """PROTOCOL §4–§5: a device proves its tokens, then gets and answers pushes.

    Every frame is checked; a bad one gets an ``error`` frame, never a crash.
    Refused frames of any kind (junk, failed auths, refused answers) count:
    too many close the socket, and their number is audited once when it
    closes. A socket that has not authenticated a token within
    ``TESSERA_WS_AUTH_SECONDS`` is closed, and one address may hold at most
    ``TESSERA_WS_PER_ADDRESS`` device sockets on this process.
    """

    MAX_TOKENS = 32
    MAX_FAILURES = 8
    open_per_address: Counter = Counter()  # this process's sockets by address

    async def connect(self):
        self.nonce = crypto.b64u_encode(secrets.token_bytes(32))
        self.serials: set[str] = set()
        self.held: set[str] = set()  # proved, but not active: info only
        self.informed: set[str] = set()  # asked for token.info
        self.challenges: set[str] = set()  # delivered, still open
        self.failures = 0
        self.address = scope_ip(self.scope) or "unknown"
        if self.open_per_address[self.address] >= settings.TESSERA_WS_PER_ADDRESS:
            self.address = None  # not counted: this socket never opened
            await database_sync_to_async(audit_record)(
                action="device.socket_refused",
                outcome="failure",
                source="device-ws",
                ip=scope_ip(self.scope),
                reason="too many sockets from this address",
            )
            await self.close(code=4429)
            return
        self.open_per_address[self.address] += 1
        await self.accept()
        await self.send_json({"type": "hello", "nonce": self.nonce})
        self.auth_timer = asyncio.create_task(self.close_unless_authenticated())

    async def close_unless_authenticated(self):
        await asyncio.sleep(settings.TESSERA_WS_AUTH_SECONDS)
        if not self.serials:
            await self.error("auth_timeout", "No token authenticated in time.")
            await self.close(code=4408)

    async def disconnect(self, code):
        if getattr(self, "auth_timer", None):
            self.auth_timer.cancel()
        if getattr(self, "address", None):
            self.open_per_address[self.address] -= 1
            if self.open_per_address[self.address] <= 0:
                del self.open_per_address[self.address]
        for serial in {*getattr(self, "serials", ()), *getattr(self, "held", ())}:
            await self.channel_layer.group_discard(
                device_group(serial), self.channel_name
            )
        for challenge_id in getattr(self, "challenges", ()):
            await self.channel_layer.group_discard(
                push_group(challenge_id), self.channel_name
            )
        if getattr(self, "failures", 0):
            await database_sync_to_async(audit_record)(
                action="device.frames_refused",
                outcome="failure",
                serial=",".join(sorted(self.serials))[:16],
                source="device-ws",
                ip=scope_ip(self.scope),
                count=self.failures,
                closed_for_failures=self.failures >= self.MAX_FAILURES,
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
        if len(text_data or bytes_data or "") > MAX_FRAME:
            await self.close(code=1009)  # RFC 6455: too big to process
            return
        if text_data is not None:
            try:
                content = loads_bounded(text_data)
            except ValueError:
                content = None
        if not isinstance(content, dict):
            await self.fail("invalid_frame", "Send one JSON object per frame.")
            return
        problem = frame_problem(content)
        if problem:
            await self.fail("invalid_frame", problem)
        elif content["type"] == "auth":
            await self.authenticate(content)
        else:
            await self.answer(content)

    async def error(self, code: str, detail: str, **extra):
        await self.send_json(
            {"type": "error", "error": code, "detail": detail, **extra}
        )

    async def authenticate(self, content):
        serial = content.get("serial") or ""
        if len(self.serials) >= self.MAX_TOKENS:
            await self.error("too_many_tokens", "Too many tokens on one socket.")
            return
        try:
            token = await database_sync_to_async(device_authenticate)(
                serial=serial,
                nonce=self.nonce,
                signature=content.get("signature"),
                ip=scope_ip(self.scope),
            )
        except ServiceError as exc:
            if exc.code == "token_inactive":  # the device proved its key
                if exc.extra.get("info") and content.get("info") is True:
                    # It hears here if the token is resumed.
                    self.held.add(serial)
                    self.informed.add(serial)
                    await self.channel_layer.group_add(
                        device_group(serial), self.channel_name
                    )
                    await self.send_json(exc.extra["info"])
                await self.error(exc.code, exc.detail, serial=serial[:16])
            else:
                await self.fail(exc.code, exc.detail, serial=serial[:16])
            return
        self.serials.add(token.serial)
        await self.channel_layer.group_add(
            device_group(token.serial), self.channel_name
        )
        await self.send_json({"type": "ready", "serial": token.serial})
        if content.get("info") is True:  # the device asked for token.info
            self.informed.add(token.serial)
            info = await database_sync_to_async(signed_token_info)(token)
            if info:
                await self.send_json(info)
        for payload in await database_sync_to_async(push_pending_payloads)(
            [token.serial]
        ):
            await self.deliver(payload)

    async def answer(self, content):
        ident = content.get("id", "")[:36]
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
                webauthn=content.get("webauthn"),
                source="device-ws",
                ip=scope_ip(self.scope),
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

    async def token_info(self, event):
        """The token changed (renamed, suspended, revoked…): tell the device;
        a token no longer active stops receiving requests here."""
        info = event["info"]
        serial = info["serial"]
        if event.get("unbind"):  # the token moved to another device
            if serial in self.serials or serial in self.held:
                self.serials.discard(serial)
                self.held.discard(serial)
                await self.channel_layer.group_discard(
                    device_group(serial), self.channel_name
                )
                if serial in self.informed:
                    await self.send_json(info)
            return
        if serial not in self.informed:
            return
        if info["state"] == "active":
            self.held.discard(serial)
            self.serials.add(serial)
        else:  # answers for it are refused here from now on
            self.serials.discard(serial)
            self.held.add(serial)
        await self.send_json(info)

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
