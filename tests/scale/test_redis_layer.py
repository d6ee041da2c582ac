"""config.layers.RedisLayer against a real redis-server: one reader a
process hands each message to its own consumer, forgets queues nobody
reads, and makes every waiting consumer fail when Redis goes away (so its
socket closes and the app reconnects)."""

from __future__ import annotations

import asyncio

import pytest

from config.layers import RedisLayer
from tests.servers import free_port, start_redis, stop
from tests.ws.test_token_status import run_async


@pytest.fixture
def redis_url():
    port = free_port()
    redis = start_redis(port)
    try:
        yield f"redis://127.0.0.1:{port}/0", redis
    finally:
        stop(redis)


def layer_for(url: str) -> RedisLayer:
    return RedisLayer(hosts=[{"address": url, "socket_timeout": 30}])


def test_each_consumer_gets_its_own_messages_in_order(redis_url):
    url, _ = redis_url

    async def run():
        layer = layer_for(url)
        a, b = await layer.new_channel(), await layer.new_channel()
        waiting = [asyncio.ensure_future(layer.receive(c)) for c in (a, b)]
        await asyncio.sleep(0.1)
        await layer.send(b, {"type": "x", "n": 1})
        await layer.send(a, {"type": "x", "n": 2})
        await layer.send(a, {"type": "x", "n": 3})
        got = await asyncio.wait_for(asyncio.gather(*waiting), 5)
        assert [m["n"] for m in got] == [2, 1]
        assert (await asyncio.wait_for(layer.receive(a), 5))["n"] == 3
        await layer.group_add("g", b)
        await layer.group_send("g", {"type": "x", "n": 4})
        assert (await asyncio.wait_for(layer.receive(b), 5))["n"] == 4
        assert not layer.receive_buffer  # nothing left behind
        await layer.flush()

    run_async(run)


def test_a_queue_nobody_reads_is_forgotten(redis_url):
    url, _ = redis_url

    async def run():
        layer = layer_for(url)
        layer.unread_seconds = 0.2
        gone, alive = await layer.new_channel(), await layer.new_channel()
        listening = asyncio.ensure_future(layer.receive(alive))
        await asyncio.sleep(0.1)
        await layer.send(gone, {"type": "x"})  # its consumer left
        for _ in range(6):  # the reader sweeps as messages pass
            await layer.send(alive, {"type": "x"})
            await asyncio.wait_for(listening, 5)
            await asyncio.sleep(0.1)
            listening = asyncio.ensure_future(layer.receive(alive))
        assert gone not in layer.receive_buffer
        listening.cancel()
        await layer.flush()

    run_async(run)


def test_every_waiting_consumer_fails_when_redis_goes(redis_url):
    url, redis = redis_url

    async def run():
        layer = layer_for(url)
        channels = [await layer.new_channel() for _ in range(3)]
        waiting = [asyncio.ensure_future(layer.receive(c)) for c in channels]
        await asyncio.sleep(0.2)
        await asyncio.to_thread(stop, redis)
        done = await asyncio.wait_for(
            asyncio.gather(*waiting, return_exceptions=True), 40
        )
        assert all(isinstance(outcome, Exception) for outcome in done), done

    run_async(run)
