"""Waiting for a push's outcome, for any door that waits on a phone (the
relying-party API's long-poll, RADIUS): subscribe to the challenge's group
on the channel layer *before* reading the state, then await one message or
the deadline. Nothing sleeps in a loop, and no thread is held."""

from __future__ import annotations

import asyncio

from channels.layers import get_channel_layer
from django.utils import timezone

from tokens.events import ENDS_GROUP, push_group
from tokens.services.push.challenges import push_for_client, push_state_now
from tokens.threads import on_db_thread


def status_body(challenge, state: str, message: dict | None = None) -> dict:
    """What the API answers; from the announcement when there is one."""
    body = {"id": str(challenge.pk), "state": state}
    if state == "approved":
        serial = (message or {}).get("serial") or (
            challenge.answered_by.serial if challenge.answered_by_id else ""
        )
        if serial:
            body["serial"] = serial
    if state == "denied":
        body["fraud"] = bool(message.get("fraud")) if message else challenge.fraud
    return body


def outcome_now(challenge_id, client: str, source: str) -> dict | None:
    challenge = push_for_client(challenge_id, client, source)
    if challenge is None:
        return None
    return {"challenge": challenge, "state": push_state_now(challenge)}


async def wait_for_outcome(
    challenge_id, client: str, wait: int, source: str = "api"
) -> dict | None:
    """The challenge's outcome once decided, or its state after ``wait`` s."""
    layer = get_channel_layer()
    channel = await layer.new_channel()
    group = push_group(challenge_id)
    await layer.group_add(group, channel)
    ended = False  # the group ended with the message that came
    try:
        now = await on_db_thread(outcome_now)(challenge_id, client, source)
        if now is None or now["state"] != "pending" or wait <= 0:
            return now and status_body(now["challenge"], now["state"])
        challenge = now["challenge"]
        # Wake at the expiry too, so an unanswered request ends on time.
        until_expiry = (challenge.expires_at - timezone.now()).total_seconds() + 0.05
        try:
            async with asyncio.timeout(min(wait, max(until_expiry, 0))):
                while True:
                    message = await layer.receive(channel)
                    if message.get("type") == "push.state":
                        ended = bool(message.get(ENDS_GROUP))
                        return status_body(challenge, message["state"], message)
        except TimeoutError:
            pass
        later = await on_db_thread(outcome_now)(challenge_id, client, source)
        return status_body(later["challenge"], later["state"])
    finally:
        if not ended:
            await layer.group_discard(group, channel)
