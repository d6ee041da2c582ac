"""Real-time announcements. Only what committed is announced (on_commit),
and every group name is built here, by one function each."""

from __future__ import annotations

import asyncio
import threading

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction


def token_group(serial: str) -> str:
    return f"token.{serial}"


def _group_send(group: str, message: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    send = async_to_sync(layer.group_send)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        send(group, message)  # the usual case: a sync worker thread
        return
    # Called from a thread that runs an event loop: send from a helper thread.
    helper = threading.Thread(target=send, args=(group, message))
    helper.start()
    helper.join()


def announce_token_state(serial: str, state: str) -> None:
    """Tell pages watching ``serial`` its new state, once the change commits."""
    transaction.on_commit(
        lambda: _group_send(
            token_group(serial),
            {"type": "token.state", "serial": serial, "state": state},
        )
    )


def device_group(serial: str) -> str:
    """The sockets of the device holding ``serial`` (PROTOCOL §4)."""
    return f"device.{serial}"


def push_group(challenge_id) -> str:
    """Whoever waits on a push challenge: the login page, an API long-poll."""
    return f"push.{challenge_id}"


def announce_challenge(serials: list[str], payloads: dict[str, dict]) -> None:
    """Deliver a new challenge to its devices, once it has committed."""

    def send():
        for serial in serials:
            _group_send(
                device_group(serial),
                {"type": "push.challenge", "challenge": payloads[serial]},
            )

    transaction.on_commit(send)


def announce_push_state(
    challenge_id, state: str, serials: list[str], *, fraud: bool = False
) -> None:
    """Tell the waiters the outcome, and the devices to close the request."""
    message = {"type": "push.state", "id": str(challenge_id), "state": state}
    if fraud:
        message["fraud"] = True

    def send():
        _group_send(push_group(challenge_id), message)
        for serial in serials:
            _group_send(device_group(serial), message)

    transaction.on_commit(send)
