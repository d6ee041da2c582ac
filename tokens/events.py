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
