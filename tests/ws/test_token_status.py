"""The token-status websocket: session-bound, pushes activation in real time."""

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from tokens.consumers import WATCH_SESSION_KEY, TokenStatusConsumer
from tokens.events import token_group
from tokens.services.enrollment import token_assign

pytestmark = pytest.mark.django_db(transaction=True)


def run_async(fn, *args):
    """Run a coroutine on its own thread: the browser tests leave Playwright's
    event loop in the main thread, where async_to_sync refuses to run."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, fn(*args)).result()


def communicator(session):
    comm = WebsocketCommunicator(TokenStatusConsumer.as_asgi(), "/ws/token-status/")
    comm.scope["session"] = session
    return comm


def test_a_socket_without_a_watched_token_is_refused():
    async def run():
        comm = communicator({})
        connected, code = await comm.connect()
        assert not connected and code == 4403

    run_async(run)


def test_it_sends_the_current_state_then_the_activation(user):
    serial = token_assign(user=user, actor="test", notify=False).token.serial
    run_async(_watch_activation, serial)


async def _watch_activation(serial):
    comm = communicator({WATCH_SESSION_KEY: [serial]})
    connected, _ = await comm.connect()
    assert connected
    assert await comm.receive_json_from() == {
        "type": "token",
        "serial": serial,
        "state": "assigned",
    }
    await get_channel_layer().group_send(
        token_group(serial),
        {"type": "token.state", "serial": serial, "state": "active"},
    )
    assert await comm.receive_json_from() == {
        "type": "token",
        "serial": serial,
        "state": "active",
    }
    await comm.send_json_to({"type": "anything"})
    assert (await comm.receive_json_from())["type"] == "error"
    await comm.disconnect()


def test_a_page_hears_at_once_that_its_activation_was_replaced(user):
    """An administrator issues a newer activation: pages still showing the
    old one are told (they say so instead of "Waiting for your device")."""
    from channels.db import database_sync_to_async

    from tokens.services.enrollment import enrollment_issue

    issued = token_assign(user=user, actor="test", notify=False)
    serial = issued.token.serial

    async def run():
        comm = communicator({WATCH_SESSION_KEY: [serial]})
        connected, _ = await comm.connect()
        assert connected
        assert (await comm.receive_json_from())["state"] == "assigned"
        await database_sync_to_async(enrollment_issue)(
            token=issued.token, actor="admin:root", notify=False
        )
        told = await comm.receive_json_from(timeout=3)
        assert told == {"type": "token", "serial": serial, "state": "replaced"}
        await comm.disconnect()

    run_async(run)
