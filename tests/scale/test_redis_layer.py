"""config.layers.RedisLayer against a real redis-server: one reader a
process hands each message to its own consumer, forgets queues nobody
reads, and makes every waiting consumer fail when Redis goes away (so its
socket closes and the app reconnects)."""

from __future__ import annotations

import asyncio

import pytest
from channels_redis.core import RedisChannelLayer

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


def test_group_send_reaches_every_process_and_the_stock_layer(redis_url):
    """Members in three processes, one of them on channels_redis's own layer
    (same keys and message format); a full channel is skipped, not fatal."""
    url, _ = redis_url

    async def run():
        ours, theirs = layer_for(url), layer_for(url)
        stock = RedisChannelLayer(hosts=[{"address": url}])
        a, b, c = [await layer.new_channel() for layer in (ours, ours, theirs)]
        s = await stock.new_channel()
        for channel in (a, b, c, s):
            await ours.group_add("push.1", channel)
        await stock.group_send("push.1", {"type": "x", "n": 1})
        await ours.group_send("push.1", {"type": "x", "n": 2})
        for layer, channel in ((ours, a), (ours, b), (theirs, c), (stock, s)):
            got = [await asyncio.wait_for(layer.receive(channel), 5) for _ in "12"]
            assert [m["n"] for m in got] == [1, 2], (channel, got)
            assert all("__asgi_channel__" not in m for m in got)
        # A channel of no process (no "!" in its name) has a key of its own.
        await ours.group_add("plain", "worker.jobs")
        await ours.group_add("plain", a)
        await ours.group_send("plain", {"type": "x", "n": 0})
        assert (await asyncio.wait_for(stock.receive("worker.jobs"), 5))["n"] == 0
        assert (await asyncio.wait_for(ours.receive(a), 5))["n"] == 0
        # A channel at its capacity is skipped; the others still get it.
        theirs.capacity = ours.capacity = 2
        await ours.group_send("push.1", {"type": "x", "n": 3})
        await ours.group_send("push.1", {"type": "x", "n": 4})
        await ours.group_discard("push.1", b)
        await ours.group_send("push.1", {"type": "x", "n": 5})
        assert (await asyncio.wait_for(ours.receive(a), 5))["n"] == 3
        assert (await asyncio.wait_for(ours.receive(b), 5))["n"] == 3
        assert (await asyncio.wait_for(ours.receive(b), 5))["n"] == 4
        with pytest.raises(TimeoutError):  # discarded before the fifth
            await asyncio.wait_for(ours.receive(b), 0.5)
        await ours.flush()

    run_async(run)


def test_a_last_group_send_ends_the_group_as_it_sends(redis_url):
    """``group_send_last`` (a push's outcome): every member gets it, on our
    layer and the stock one, and the group is gone in the same script."""
    url, _ = redis_url

    async def run():
        ours, theirs = layer_for(url), layer_for(url)
        stock = RedisChannelLayer(hosts=[{"address": url}])
        a, c, s = [await layer.new_channel() for layer in (ours, theirs, stock)]
        for channel in (a, c, s):
            await ours.group_add("push.2", channel)
        await ours.group_add("push.3", a)  # another group is not touched
        await ours.group_send_last("push.2", {"type": "x", "n": 1})
        for layer, channel in ((ours, a), (theirs, c), (stock, s)):
            assert (await asyncio.wait_for(layer.receive(channel), 5))["n"] == 1
        redis = ours.connection(0)
        assert not await redis.exists(ours._group_key("push.2"))
        assert await redis.zcard(ours._group_key("push.3")) == 1
        await ours.group_send("push.2", {"type": "x", "n": 2})  # nobody left
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ours.receive(a), 0.5)
        await ours.flush()

    run_async(run)


def test_a_message_costs_one_command_to_read(redis_url):
    """The reader takes what waits in one BZMPOP; a group send is one
    script run by digest, a group add one script."""
    url, _ = redis_url

    async def calls(layer) -> dict:
        stats = await layer.connection(0).info("commandstats")
        return {k.removeprefix("cmdstat_"): v["calls"] for k, v in stats.items()}

    async def run():
        sender, reader = layer_for(url), layer_for(url)
        channels = [await reader.new_channel() for _ in range(20)]
        for channel in channels:
            await sender.group_add("g", channel)
        waiting = [asyncio.ensure_future(reader.receive(c)) for c in channels]
        await asyncio.sleep(0.2)  # the reader waits in BZMPOP
        before = await calls(sender)
        for n in range(5):
            await sender.group_send("g", {"type": "x", "n": n})
        await asyncio.wait_for(asyncio.gather(*waiting), 5)
        got = [await asyncio.wait_for(reader.receive(c), 5) for c in channels]
        assert [m["n"] for m in got] == [1] * 20  # the first came to each
        spent = {k: v - before.get(k, 0) for k, v in (await calls(sender)).items()}
        # Commands the scripts run count too: only theirs may appear.
        inside = {"zremrangebyscore", "zrange", "zcard", "zadd", "expire", "del"}
        trips = {k: v for k, v in spent.items() if v and k not in inside}
        trips.pop("info", None)
        # One script a group send (plus, the first time, NOSCRIPT and a load).
        assert 5 <= trips.pop("evalsha") <= 6, trips
        assert trips.pop("script|load", 0) <= 1, trips
        assert 1 <= trips.pop("bzmpop") <= 7, trips  # one a send at most
        assert not trips, trips  # no EVAL, no backup set, nothing else
        before = await calls(sender)
        await sender.group_add("g2", channels[0])
        spent = {k: v - before.get(k, 0) for k, v in (await calls(sender)).items()}
        trips = {k: v for k, v in spent.items() if v and k not in inside}
        trips.pop("info", None)
        trips.pop("bzmpop", None)  # the reader's wait, timed out meanwhile
        assert trips.pop("evalsha") == 1 and trips.pop("script|load", 0) <= 1, trips
        assert not trips, trips  # one trip, not a pipeline of two
        await sender.flush()

    run_async(run)


def test_a_send_enlisting_adds_the_members_to_another_group(redis_url):
    """A push's challenge: every phone it reaches, in any process and on
    the stock layer too, is a member of the push's group by the same
    script, and hears its outcome without having joined it."""
    url, _ = redis_url

    async def run():
        ours, theirs = layer_for(url), layer_for(url)
        stock = RedisChannelLayer(hosts=[{"address": url}])
        a, b, c, s = [
            await layer.new_channel() for layer in (ours, ours, theirs, stock)
        ]
        for channel in (a, b, c, s):
            await ours.group_add("device.1", channel)
        await ours.group_add("device.2", a)  # another group: not enlisted
        await ours.group_send_enlisting(
            "device.1", {"type": "x", "n": 1, "v": ["é", None, 2.5]}, "push.9"
        )
        pairs = ((ours, a), (ours, b), (theirs, c), (stock, s))
        for layer, channel in pairs:
            got = await asyncio.wait_for(layer.receive(channel), 5)
            assert got == {"type": "x", "n": 1, "v": ["é", None, 2.5]}, got
        redis = ours.connection(0)
        members = await redis.zrange(ours._group_key("push.9"), 0, -1)
        assert sorted(m.decode() for m in members) == sorted([a, b, c, s])
        assert await redis.ttl(ours._group_key("push.9")) > 0
        await ours.group_send_last("push.9", {"type": "x", "n": 2})
        for layer, channel in pairs:
            assert (await asyncio.wait_for(layer.receive(channel), 5))["n"] == 2
        # Nobody in the group: nothing enlisted, no empty group left behind.
        await ours.group_send_enlisting("device.3", {"type": "x"}, "push.10")
        assert not await redis.exists(ours._group_key("push.10"))
        await ours.flush()

    run_async(run)


def test_encrypted_messages_are_sent_in_two_scripts(redis_url):
    """Where the message cannot be finished in Redis (encrypted), a group
    send is the members, then the stock send: it still reaches everyone."""
    url, _ = redis_url

    async def run():
        config = {"hosts": [{"address": url}], "symmetric_encryption_keys": ["k"]}
        ours = RedisLayer(**config)
        stock = RedisChannelLayer(**config)
        assert not ours._in_one_script()
        a, s = await ours.new_channel(), await stock.new_channel()
        for channel in (a, s):
            await ours.group_add("device.1", channel)
        await ours.group_send_enlisting("device.1", {"type": "x", "n": 1}, "push.1")
        for layer, channel in ((ours, a), (stock, s)):
            assert (await asyncio.wait_for(layer.receive(channel), 5))["n"] == 1
        await ours.group_send_last("push.1", {"type": "x", "n": 2}, skip=s)
        assert (await asyncio.wait_for(ours.receive(a), 5))["n"] == 2
        with pytest.raises(TimeoutError):  # skipped
            await asyncio.wait_for(stock.receive(s), 0.5)
        assert not await ours.connection(0).exists(ours._group_key("push.1"))
        await ours.flush()

    run_async(run)


def test_more_commands_at_once_than_connections_wait_their_turn(redis_url):
    """A storm past the pool's size queues for a connection instead of
    failing ("Too many connections" was a failed request)."""
    url, _ = redis_url

    async def run():
        layer = layer_for(url)
        layer.pool_size = 3
        channel = await layer.new_channel()
        await asyncio.gather(*(layer.group_add(f"g{n}", channel) for n in range(60)))
        await asyncio.gather(
            *(layer.group_send(f"g{n}", {"type": "x", "n": n}) for n in range(60))
        )
        got = [await asyncio.wait_for(layer.receive(channel), 5) for _ in range(60)]
        assert sorted(m["n"] for m in got) == list(range(60))
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


def test_a_busy_consumer_behind_on_its_queue_keeps_it(redis_url):
    """A consumer that reads, though a message always waits for it when the
    sweeps come, loses nothing (only a queue nobody reads is forgotten)."""
    url, _ = redis_url

    async def run():
        layer = layer_for(url)
        layer.unread_seconds = 0.2
        busy = await layer.new_channel()
        listening = asyncio.ensure_future(layer.receive(busy))
        await asyncio.sleep(0.1)  # the reader waits
        await layer.send(busy, {"type": "x", "n": 0})
        await layer.send(busy, {"type": "x", "n": 1})
        assert (await asyncio.wait_for(listening, 5))["n"] == 0
        for n in range(2, 9):
            await asyncio.sleep(0.1)
            await layer.send(busy, {"type": "x", "n": n})  # the reader sweeps
            await asyncio.sleep(0.05)
            got = await asyncio.wait_for(layer.receive(busy), 5)
            assert got["n"] == n - 1, (n, got)  # one behind, none lost
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
