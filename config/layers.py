"""Channel layers tuned for thousands of waiting sockets a process.

``EmbeddedChannelLayer``: Channels' in-memory layer, with its expiry sweep
run at most once a second. The stock layer sweeps every channel and group on
*every* ``receive``; with a thousand device sockets each waiting in
``receive``, that sweep dominated the server's profile (bench/push.py).
Messages expire after 60 s and group memberships after a day, so sweeping
messages once a second and memberships once a minute changes nothing a
client can see.

``RedisLayer``: channels_redis's layer with one reader a process. In the
stock ``receive`` every waiting consumer races for one ``asyncio.Lock``: with
5,000 device sockets on a process each message a socket received cancelled
that socket's place among 5,000 lock waiters (a scan of the waiters' deque)
and queued it again, 15 % of a login storm's profile. Here one task reads the
process's channel and puts each message in its consumer's queue;
``receive`` waits on that queue alone. When the reader fails (Redis gone),
every consumer's ``receive`` raises its error, as the stock layer raised it
in the one that held the lock (and then in each next one), so each socket
closes and its app reconnects; the next ``receive`` starts a new reader. A
reader lives as long as its event loop.

Fewer round trips to Redis, same keys and message format as the stock layer
(so processes of either kind can share a Redis): the reader takes every
waiting message of its process in one ``BZMPOP`` (stock: an ``EVAL``, a
``BZPOPMIN``, a ``ZADD`` to a backup set and a ``ZPOPMIN`` from it, a
message); ``group_send`` is one script run by digest (stock: four round
trips, the script's text sent each time): it reads the group and adds the
message to each member's channel, the message's bytes finished in the
script with the list of that channel's members (the stock layer's
``__asgi_channel__``; with encrypted messages or several Redis hosts, where
that cannot be done in one script, two scripts); ``group_add`` one script
(stock: two trips). ``group_send_enlisting`` sends to a group and adds its
members to another group in the same script (a push's challenge: the
phones that get it follow the push's group without a trip of their own).
The stock backup set let a *cancelled* ``receive`` leave its message for
the next one; the reader is cancelled only when its event loop
ends, and a process-specific channel has no other reader, so its messages
would be lost with the process either way.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time

import msgpack
from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer
from channels_redis.core import RedisChannelLayer
from channels_redis.serializers import MsgPackSerializer
from redis.asyncio import BlockingConnectionPool

from config.redis_scripts import (
    GROUP_ADD,
    GROUP_MEMBERS,
    GROUP_SEND,
    SEND_EACH,
    run_script,
)

log = logging.getLogger(__name__)


class EmbeddedChannelLayer(InMemoryChannelLayer):
    sweep_interval = 1.0  # expired messages
    group_sweep_interval = 60.0  # memberships older than group_expiry (a day)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._last_sweep = self._last_group_sweep = time.monotonic()

    def _clean_expired(self):
        """The stock sweep, at most once a ``sweep_interval``, looking only
        at queues that hold messages (a waiting consumer's queue is empty),
        and at memberships once a ``group_sweep_interval``: with 10,000
        phones on a process the stock walk of every queue and group took
        14 ms, each second, and 2 % of the login storm's samples."""
        now = time.monotonic()
        if now - self._last_sweep < self.sweep_interval:
            return
        self._last_sweep = now
        wall = time.time()
        expired = [
            channel
            for channel, queue in self.channels.items()
            if queue._queue and queue._queue[0][0] < wall
        ]
        for channel in expired:  # as the stock sweep does
            queue = self.channels[channel]
            while not queue.empty() and queue._queue[0][0] < wall:
                queue.get_nowait()
                self._remove_from_groups(channel)
            if queue.empty():
                self.channels.pop(channel, None)
        if now - self._last_group_sweep < self.group_sweep_interval:
            return
        self._last_group_sweep = now
        timeout = int(wall) - self.group_expiry
        for channels in self.groups.values():
            for name, timestamp in list(channels.items()):
                if timestamp and timestamp < timeout:
                    channels.pop(name, None)

    async def group_send_last(self, group, message, *, skip: str = ""):
        """``group_send`` to every member but ``skip`` (who knows already),
        and the group ends: its members are out of it without leaving (see
        tokens.events)."""
        self.require_valid_group_name(group)
        self._clean_expired()
        for channel in self.groups.pop(group, {}):
            if channel != skip:
                try:
                    await self.send(channel, message)
                except ChannelFull:
                    pass

    async def group_send_enlisting(self, group, message, enlist: str):
        """``group_send``, and every member joins ``enlist`` too."""
        self.require_valid_group_name(enlist)
        self._clean_expired()
        for channel in list(self.groups.get(group, {})):
            await InMemoryChannelLayer.group_add(self, enlist, channel)
        await self.group_send(group, message)


class _Failed:
    """Put in the consumers' queues when the reader fails."""

    def __init__(self, error: BaseException):
        self.error = error


class RedisLayer(RedisChannelLayer):
    # A consumer waits in receive() again as soon as it has handled a
    # message; a queue left unread this long belongs to a socket or
    # long-poll that is gone (the stock layer's buffer kept those forever).
    unread_seconds = 60.0
    # Connections a process may hold to one Redis, and how long a command
    # waits for one of them before it fails.
    pool_size = 100
    pool_wait_seconds = 20

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._reader: asyncio.Task | None = None
        self._unread: set[str] = set()
        self._received: set[str] = set()  # channels read since the last sweep
        self._swept = time.monotonic()

    def create_pool(self, index):
        """A pool that makes a command wait for a free connection when all
        are busy (redis-py's default pool refuses it at once: "Too many
        connections", a failed request, when a storm outran the machine)."""
        host = dict(self.hosts[index])
        if "address" not in host:
            return super().create_pool(index)
        host.setdefault("max_connections", self.pool_size)
        host.setdefault("timeout", self.pool_wait_seconds)
        return BlockingConnectionPool.from_url(host.pop("address"), **host)

    async def receive(self, channel):
        if "!" not in channel:
            return await super().receive(channel)
        assert self.require_valid_channel_name(channel)
        process = self.non_local_name(channel)
        assert process.endswith(self.client_prefix + "!"), "Wrong client prefix"
        queue = self.receive_buffer[channel]
        self._received.add(channel)
        if queue.empty():
            self._ensure_reader(process)
        try:
            message = await queue.get()
        except asyncio.CancelledError:
            if queue.empty():
                self.receive_buffer.pop(channel, None)
            raise
        if queue.empty():
            self.receive_buffer.pop(channel, None)
        if isinstance(message, _Failed):
            raise message.error
        return message

    def _ensure_reader(self, process: str) -> None:
        loop = asyncio.get_running_loop()
        reader = self._reader
        if reader is not None and not reader.done() and reader.get_loop() is loop:
            return
        self._reader = loop.create_task(self._read(process))

    async def _read(self, process: str) -> None:
        key = self.prefix + process
        index = self.consistent_hash(process)
        try:
            while True:
                popped = await self.connection(index).bzmpop(
                    self.brpop_timeout, 1, [key], min=True, count=self.capacity
                )
                for content, _score in popped[1] if popped else ():
                    self._deliver(process, content)
                self._sweep()
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - handed to every consumer
            if self._reader is asyncio.current_task():
                self._reader = None
            for queue in list(self.receive_buffer.values()):
                queue.put_nowait(_Failed(error))

    def _deliver(self, process: str, content: bytes) -> None:
        """Put one message in the queue of each of its consumers."""
        try:
            message = self.deserialize(content)
            channels = message.pop("__asgi_channel__")
        except Exception:  # noqa: BLE001 - one bad message is not the reader's end
            log.exception("dropped a message on %s that could not be read", process)
            return
        for name in channels if isinstance(channels, list) else [channels]:
            self.receive_buffer[name].put_nowait(message)

    def _sweep(self) -> None:
        """Drop the queues that held messages at two sweeps ``unread_seconds``
        apart with no ``receive`` between (a consumer that is gone; one that
        waits has an empty queue, one that works reads)."""
        now = time.monotonic()
        if now - self._swept < self.unread_seconds:
            return
        self._swept = now
        unread = {
            name
            for name, queue in self.receive_buffer.items()
            if not queue.empty() and name not in self._received
        }
        for name in unread & self._unread:
            del self.receive_buffer[name]
        self._unread = unread - self._unread
        self._received = set()

    async def group_add(self, group, channel):
        assert self.require_valid_group_name(group), "Group name not valid"
        assert self.require_valid_channel_name(channel), "Channel name not valid"
        await self._script(
            GROUP_ADD,
            self.consistent_hash(group),
            [self._group_key(group)],
            [channel, time.time(), self.group_expiry],
        )

    async def group_send(self, group, message):
        await self._group_send(group, message, last=False)

    async def group_send_last(self, group, message, *, skip: str = ""):
        """``group_send`` to every member but ``skip`` (who knows already),
        and the group ends in the same script: its members are out of it
        without a trip of their own (see tokens.events)."""
        await self._group_send(group, message, last=True, skip=skip)

    async def group_send_enlisting(self, group, message, enlist: str):
        """``group_send``, and every member joins ``enlist`` in the same
        script (see tokens.events)."""
        assert self.require_valid_group_name(enlist), "Group name not valid"
        await self._group_send(group, message, last=False, enlist=enlist)

    def _script(self, text: str, index: int, keys: list, args: list):
        return run_script(text, self.connection(index), keys, args)

    def _in_one_script(self) -> bool:
        """Whether a group send can be one script: the stock message format
        built in Redis (msgpack, not encrypted), one host, one capacity."""
        serializer = self._serializer
        return (
            self.ring_size == 1
            and not self.channel_capacity
            and isinstance(serializer, MsgPackSerializer)
            and serializer.crypter is None
        )

    async def _group_send(self, group, message, *, last, skip="", enlist=""):
        assert self.require_valid_group_name(group), "Group name not valid"
        if not self._in_one_script():
            await self._group_send_in_two(group, message, last, skip, enlist)
            return
        # The message packed with its channel list last, the list cut off
        # (a nil: one byte): the script appends each key's list.
        body = msgpack.packb({**message, "__asgi_channel__": None})[:-1]
        n = self._serializer.random_prefix_length  # messages unique in a key
        prefix = random.getrandbits(8 * n).to_bytes(n, "big") if n else b""
        now = time.time()
        keys = [self._group_key(group)]
        if enlist:
            keys.append(self._group_key(enlist))
        over = await self._script(
            GROUP_SEND,
            0,
            keys,
            [
                int(now) - self.group_expiry,
                "1" if last else "0",
                skip,
                self.prefix,
                prefix + body,
                self.capacity,
                now,
                self.expiry,
                int(now) - int(self.expiry),
                self.group_expiry,
            ],
        )
        if over:
            log.info("%s channels over capacity in group %s", over, group)

    async def _group_send_in_two(self, group, message, last, skip, enlist):
        """The members, then a script a host for their channels."""
        members = await self._script(
            GROUP_MEMBERS,
            self.consistent_hash(group),
            [self._group_key(group)],
            [int(time.time()) - self.group_expiry, "1" if last else "0"],
        )
        channels = [member.decode("utf8") for member in members]
        for channel in channels if enlist else ():
            await self.group_add(enlist, channel)
        by_connection, messages, capacities = self._map_channel_keys_to_connection(
            [channel for channel in channels if channel != skip], message
        )
        for index, keys in by_connection.items():
            now = time.time()
            over = await self._script(
                SEND_EACH,
                index,
                keys,
                [
                    *(messages[key] for key in keys),
                    *(capacities[key] for key in keys),
                    now,
                    self.expiry,
                    int(now) - int(self.expiry),
                ],
            )
            if over:
                log.info("%s channels over capacity in group %s", over, group)
