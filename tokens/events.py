"""Real-time announcements. Only what committed is announced (on_commit),
and every group name is built here, by one function each."""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction


def token_group(serial: str) -> str:
    return f"token.{serial}"


async def _send_all(layer, messages: list[tuple[str, dict]], skip: str = "") -> None:
    for group, message in messages:
        if message.get(ENLISTS):
            send_enlisting = getattr(layer, "group_send_enlisting", None)
            if send_enlisting is not None:
                await send_enlisting(group, message, message[ENLISTS])
                continue
            # A layer without it: the members join the group themselves.
            message = {k: v for k, v in message.items() if k != ENLISTS}
        if message.get(ENDS_GROUP):
            send_last = getattr(layer, "group_send_last", None)
            if send_last is not None:
                await send_last(group, message, skip=skip)
                continue
            # A layer without it: the members leave the group themselves.
            message = {k: v for k, v in message.items() if k != ENDS_GROUP}
        await layer.group_send(group, message)


# In an announcement that is its group's last (a push's outcome): the layer
# ends the group as it sends (config.layers), so whoever receives it is out
# of the group already and need not leave it (a trip to Redis each).
ENDS_GROUP = "ends_group"

# In a challenge sent to a device's group: the group its members join as it
# is sent (the push's, config.layers), so a phone that gets the challenge
# follows the push's outcome without a trip of its own to join it.
ENLISTS = "enlists"


# The announcements of the work a worker thread runs for an event loop
# (``announcing``): the loop sends them when the work returns.
_held = threading.local()


def _group_send_many(messages: list[tuple[str, dict]]) -> None:
    """Send every message in one hop to the event loop (each hop costs), or
    hold them for the loop that waits on this thread (``announcing``)."""
    layer = get_channel_layer()
    if layer is None or not messages:
        return
    held = getattr(_held, "messages", None)
    if held is not None:
        held.extend(messages)
        return
    send = async_to_sync(_send_all)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        send(layer, messages)  # the usual case: a sync worker thread
        return
    # Called from a thread that runs an event loop: send from a helper thread.
    helper = threading.Thread(target=send, args=(layer, messages))
    helper.start()
    helper.join()


def announcing(work: Callable) -> Callable:
    """``work`` for a worker thread, returning ``(result, announcements)``:
    what it announces after its commits is held, and the event loop that
    awaited it sends them (``send_announcements``), instead of the thread
    hopping to the loop and back for each. If ``work`` raises, what it
    announced is sent before the error goes on: what committed is told."""

    @functools.wraps(work)
    def run(*args, **kwargs):
        _held.messages = held = []
        try:
            result = work(*args, **kwargs)
        except BaseException:
            _held.messages = None
            _group_send_many(held)
            raise
        finally:
            _held.messages = None
        return result, held

    return run


async def send_announcements(
    messages: list[tuple[str, dict]], *, skip: str = ""
) -> None:
    """Send what ``announcing`` held. ``skip``: a channel that is told the
    outcome it caused by other means (the device socket that answered hears
    its ``answer.result``, not also ``challenge.closed``: PROTOCOL §5 closes
    a challenge to the devices that did not answer it)."""
    layer = get_channel_layer()
    if layer is not None and messages:
        await _send_all(layer, messages, skip)


def _group_send(group: str, message: dict) -> None:
    _group_send_many([(group, message)])


def announce_token_state(serial: str, state: str) -> None:
    """Tell pages watching ``serial`` its new state, once the change commits."""
    transaction.on_commit(
        lambda: _group_send(
            token_group(serial),
            {"type": "token.state", "serial": serial, "state": state},
        )
    )


def group_send_after_commit(group: str, message: dict) -> None:
    transaction.on_commit(lambda: _group_send(group, message))


def device_group(serial: str) -> str:
    """The sockets of the device holding ``serial`` (PROTOCOL §4)."""
    return f"device.{serial}"


def push_group(challenge_id) -> str:
    """Whoever waits on a push challenge: the login page, an API long-poll."""
    return f"push.{challenge_id}"


def announce_challenge(serials: list[str], payloads: dict[str, dict]) -> None:
    """Deliver a new challenge to its devices, once it has committed."""

    messages = [
        (
            device_group(s),
            {
                "type": "push.challenge",
                "challenge": payloads[s],
                ENLISTS: push_group(payloads[s]["id"]),
            },
        )
        for s in serials
    ]
    transaction.on_commit(lambda: _group_send_many(messages))


def announce_push_state(
    challenge_id, state: str, *, fraud: bool = False, answered_by: str = ""
) -> None:
    """Tell everyone following the challenge its outcome: the waiting page or
    API call (with the approving serial and the fraud flag) and the devices it
    was delivered to (they joined the same group), which close the request.
    The group ends with it."""
    message = {
        "type": "push.state",
        "id": str(challenge_id),
        "state": state,
        ENDS_GROUP: True,  # every push.state is an outcome: nothing follows
    }
    if fraud:
        message["fraud"] = True
    if answered_by:
        message["serial"] = answered_by
    transaction.on_commit(lambda: _group_send(push_group(challenge_id), message))
