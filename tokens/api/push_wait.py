"""``GET /api/v1/auth/push/<id>?wait=N``: the relying application's long-poll.

An async view (served by Django's async handler, see ``config.asgi``): it
subscribes to the challenge's group on the channel layer *before* reading the
state, then awaits one message or the deadline. Nothing sleeps in a loop, and
a waiting call holds no thread.
"""

from __future__ import annotations

import asyncio

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions

from tokens.api.authentication import ApiKeyAuthentication
from tokens.events import push_group
from tokens.selectors import push_challenge_status
from tokens.services.push import push_for_client

MAX_WAIT = 25


def _error(code: str, detail: str, status: int) -> JsonResponse:
    response = JsonResponse({"error": code, "detail": detail}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="tessera"'
    return response


def _authenticate(request):
    try:
        found = ApiKeyAuthentication().authenticate(request)
    except exceptions.AuthenticationFailed as exc:
        return None, str(exc.detail)
    if found is None:
        return None, "Authentication credentials were not provided."
    return found[1], ""


async def wait_for_outcome(challenge_id, wait: float) -> str:
    """The challenge's state once decided, or after ``wait`` seconds."""
    layer = get_channel_layer()
    channel = await layer.new_channel()
    group = push_group(challenge_id)
    await layer.group_add(group, channel)
    try:
        state, expires = await database_sync_to_async(push_challenge_status)(
            challenge_id
        )
        if state != "pending" or wait <= 0:
            return state
        # Wake at the expiry too, so an unanswered request ends on time.
        until_expiry = (expires - timezone.now()).total_seconds() + 0.05
        try:
            async with asyncio.timeout(min(wait, max(until_expiry, 0))):
                while True:
                    message = await layer.receive(channel)
                    if message.get("type") == "push.state":
                        return message["state"]
        except TimeoutError:
            pass
        state, _ = await database_sync_to_async(push_challenge_status)(challenge_id)
        return state
    finally:
        await layer.group_discard(group, channel)


def _body(challenge, state: str) -> dict:
    body = {"id": str(challenge.pk), "state": state}
    if state == "approved" and challenge.answered_by_id:
        body["serial"] = challenge.answered_by.serial
    if state == "denied":
        body["fraud"] = challenge.fraud
    return body


@csrf_exempt  # a Bearer-key API: no cookies, so no CSRF
async def push_status(request, challenge_id):
    if request.method != "GET":
        return _error(
            "method_not_allowed", f'Method "{request.method}" not allowed.', 405
        )
    client, problem = await database_sync_to_async(_authenticate)(request)
    if client is None:
        return _error("unauthorized", problem, 401)
    wait = request.GET.get("wait", "0")
    if not (wait.isdigit() and int(wait) <= MAX_WAIT):
        return _error(
            "invalid_request",
            f"wait is a whole number of seconds, 0 to {MAX_WAIT}.",
            400,
        )
    challenge = await database_sync_to_async(push_for_client)(challenge_id, client.name)
    if challenge is None:
        return _error("not_found", "There is no such push request.", 404)
    state = await wait_for_outcome(challenge.pk, int(wait))

    def reload():
        return challenge.__class__.objects.select_related("answered_by").get(
            pk=challenge.pk
        )

    return JsonResponse(_body(await database_sync_to_async(reload)(), state))
