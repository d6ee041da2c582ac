"""``GET /api/v1/auth/push/<id>?wait=N``: the relying application's long-poll.

A Channels HTTP consumer, not a Django view: it needs none of the session,
CSRF or message middleware, and running outside Django's middleware chain it
holds no thread while it waits. It subscribes to the challenge's group on the
channel layer *before* reading the state, then awaits one message or the
deadline. Nothing sleeps in a loop.
"""

from __future__ import annotations

import json
import uuid
from urllib.parse import parse_qs

from channels.generic.http import AsyncHttpConsumer
from django.conf import settings

from tokens.addresses import scope_ip
from tokens.dispatch import DirectDispatch
from tokens.services.apiclients import (
    api_client_authenticate,
    api_client_remembered,
)
from tokens.services.audit import audit_record
from tokens.services.push.wait import wait_for_outcome
from tokens.threads import on_db_thread

MAX_WAIT = 25


def _secure(scope) -> bool:
    """Whether the request came over HTTPS, as Django's ``is_secure`` says
    (the proxy's header counts only where ``SECURE_PROXY_SSL_HEADER`` says)."""
    if scope.get("scheme") == "https":
        return True
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if not proxy:
        return False
    name = proxy[0].removeprefix("HTTP_").replace("_", "-").lower().encode()
    return any(
        key == name and value.decode("latin-1") == proxy[1]
        for key, value in scope.get("headers", [])
    )


def security_headers(scope) -> list[tuple[bytes, bytes]]:
    """The headers Django's security middleware gives every page, for the
    answers this consumer writes itself (they bypass the middleware)."""
    headers = [
        (b"X-Content-Type-Options", b"nosniff"),
        (b"X-Frame-Options", settings.X_FRAME_OPTIONS.encode()),
        (
            b"Referrer-Policy",
            (settings.SECURE_REFERRER_POLICY or "same-origin").encode(),
        ),
        (b"Cross-Origin-Opener-Policy", b"same-origin"),
    ]
    if _secure(scope) and settings.SECURE_HSTS_SECONDS:
        hsts = f"max-age={settings.SECURE_HSTS_SECONDS}"
        if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
            hsts += "; includeSubDomains"
        if settings.SECURE_HSTS_PRELOAD:
            hsts += "; preload"
        headers.append((b"Strict-Transport-Security", hsts.encode()))
    return headers


async def json_response(consumer, status: int, body: dict, *extra) -> None:
    data = json.dumps(body).encode()
    headers = [
        (b"Content-Type", b"application/json"),
        (b"Content-Length", str(len(data)).encode()),
        (b"Cache-Control", b"no-store"),
        *security_headers(consumer.scope),
        *extra,
    ]
    await consumer.send_response(status, data, headers=headers)


def _bearer(scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            parts = value.split()
            if len(parts) == 2 and parts[0].lower() == b"bearer":
                return parts[1].decode("ascii", "replace")
    return ""


def _challenge_id(text: str) -> str | None:
    """The canonical form of a challenge UUID, or None for anything else."""
    try:
        return str(uuid.UUID(text)) if len(text) <= 36 else None
    except ValueError:
        return None


class _NoChannel:
    """An HTTP consumer that hears nothing on the channel layer (the wait has
    a channel of its own): no channel name, no receive task a request. An
    alias that is not configured gives no layer, as Channels documents."""

    channel_layer_alias = "tessera-none"


class PushStatusConsumer(_NoChannel, DirectDispatch, AsyncHttpConsumer):
    async def reply(self, status: int, body: dict, *extra) -> None:
        await json_response(self, status, body, *extra)

    async def error(self, status: int, code: str, detail: str) -> None:
        extra = {
            401: [(b"WWW-Authenticate", b'Bearer realm="tessera"')],
            405: [(b"Allow", b"GET")],
        }.get(status, [])
        await self.reply(status, {"error": code, "detail": detail}, *extra)

    async def handle(self, body):
        if self.scope["method"] != "GET":
            await self.error(405, "method_not_allowed", "Use GET.")
            return
        key = _bearer(self.scope)
        client = api_client_remembered(key) if key else None
        if key and client is None:
            client = await on_db_thread(api_client_authenticate)(key)
        if client is None:
            await on_db_thread(audit_record)(
                action="api.unauthorized",
                outcome="failure",
                source="api",
                ip=scope_ip(self.scope),
                path=self.scope.get("path", "")[:200],
            )
            await self.error(401, "unauthorized", "A valid API key is required.")
            return
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        wait = query.get("wait", ["0"])[-1]
        if not (wait.isdigit() and int(wait) <= MAX_WAIT):
            await self.error(
                400,
                "invalid_request",
                f"wait is a whole number of seconds, 0 to {MAX_WAIT}.",
            )
            return
        challenge_id = _challenge_id(self.scope["url_route"]["kwargs"]["challenge_id"])
        outcome = (
            await wait_for_outcome(challenge_id, client.name, int(wait))
            if challenge_id
            else None  # never a channel-layer group name made from junk
        )
        if outcome is None:
            await self.error(404, "not_found", "There is no such push request.")
            return
        await self.reply(200, outcome)


class NotFoundConsumer(_NoChannel, DirectDispatch, AsyncHttpConsumer):
    """Any other path under the long-poll prefix: a JSON 404, as the API does."""

    async def handle(self, body):
        await json_response(
            self,
            404,
            {"error": "not_found", "detail": "There is no such push request."},
        )
