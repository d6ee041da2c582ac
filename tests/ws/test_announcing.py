"""tokens.events.announcing: work run on a worker thread leaves what it
announced for the event loop that awaited it; an error still announces what
committed, before it goes on."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from tests.ws.test_token_status import run_async
from tokens.events import announcing, group_send_after_commit, send_announcements

pytestmark = pytest.mark.django_db(transaction=True)


def announce(n: int) -> int:
    group_send_after_commit("watchers", {"type": "x", "n": n})  # autocommit: now
    return n


def announce_then_fail(n: int) -> int:
    announce(n)
    raise ValueError("after the commit")


def test_the_loop_sends_what_the_thread_announced():
    async def run():
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add("watchers", channel)
        result, held = await sync_to_async(announcing(announce))(1)
        assert (result, held) == (1, [("watchers", {"type": "x", "n": 1})])
        with pytest.raises(TimeoutError):  # held, not sent by the thread
            await asyncio.wait_for(layer.receive(channel), 0.3)
        await send_announcements(held)
        assert (await asyncio.wait_for(layer.receive(channel), 2))["n"] == 1
        # Outside ``announcing`` the thread sends as before.
        await sync_to_async(announce)(2)
        assert (await asyncio.wait_for(layer.receive(channel), 2))["n"] == 2

    run_async(run)


def test_an_error_still_announces_what_committed():
    async def run():
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add("watchers", channel)
        with pytest.raises(ValueError):
            await sync_to_async(announcing(announce_then_fail))(3)
        assert (await asyncio.wait_for(layer.receive(channel), 2))["n"] == 3
        await sync_to_async(announce)(4)  # and nothing is held any more
        assert (await asyncio.wait_for(layer.receive(channel), 2))["n"] == 4

    run_async(run)
