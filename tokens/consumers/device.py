"""The device socket (PROTOCOL §4–§5): a device proves its tokens, then gets
and answers pushes."""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from tokens import crypto
from tokens.addresses import scope_ip
from tokens.consumers.frames import MAX_FRAME, frame_problem
from tokens.dispatch import TOO_BIG, DirectDispatch
from tokens.events import (
    ENDS_GROUP,
    ENLISTS,
    announcing,
    device_group,
    push_group,
    send_announcements,
)
from tokens.services.audit import audit_record
from tokens.services.errors import ServiceError
from tokens.services.push import (
    device_authenticate,
    push_answer,
    push_pending_payloads,
)
from tokens.services.tokeninfo import token_info as signed_token_info
from tokens.threads import on_db_thread
from tokens.wire import loads_bounded


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
            await on_db_thread(audit_record)(
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
            await on_db_thread(audit_record)(
                action="device.frames_refused",
                outcome="failure",
                serial=",".join(sorted(self.serials))[:16],
                source="device-ws",
                ip=scope_ip(self.scope),
                count=self.failures,
                closed_for_failures=self.failures >= self.MAX_FAILURES,
            )

    async def deliver(self, payload: dict, *, following: bool = False):
        """Send a challenge, and follow it so the device hears when it closes
        (``following``: the layer made this socket a member as it sent it)."""
        if payload["id"] not in self.challenges:
            self.challenges.add(payload["id"])
            if not following:
                await self.channel_layer.group_add(
                    push_group(payload["id"]), self.channel_name
                )
        await self.send_json(payload)

    async def receive(self, text_data=None, bytes_data=None):
        content = None
        if len(text_data or bytes_data or "") > MAX_FRAME:
            await self.close(code=TOO_BIG)  # RFC 6455's 1009, as daphne allows
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
            token = await on_db_thread(device_authenticate)(
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
            info = await on_db_thread(signed_token_info)(token)
            if info:
                await self.send_json(info)
        for payload in await on_db_thread(push_pending_payloads)([token.serial]):
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
            result, announced = await on_db_thread(announcing(push_answer))(
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
        # This socket hears the outcome as its answer's result; the others
        # that were shown the request hear it closed.
        await send_announcements(announced, skip=self.channel_name)
        self.challenges.discard(str(content.get("id")))
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
        await self.deliver(event["challenge"], following=bool(event.get(ENLISTS)))

    async def push_state(self, event):
        if event["id"] in self.challenges:
            self.challenges.discard(event["id"])
            if not event.get(ENDS_GROUP):  # else the group is gone already
                await self.channel_layer.group_discard(
                    push_group(event["id"]), self.channel_name
                )
        await self.send_json(
            {"type": "challenge.closed", "id": event["id"], "state": event["state"]}
        )
