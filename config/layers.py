"""Channel layers tuned for thousands of waiting sockets a process.

``EmbeddedChannelLayer``: Channels' in-memory layer, with its expiry sweep
run at most once a second. The stock layer sweeps every channel and group on
*every* ``receive``; with a thousand device sockets each waiting in
``receive``, that sweep dominated the server's profile (bench/push.py).
Messages expire after 60 s and group memberships after a day, so sweeping
once a second changes nothing a client can see.

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
message); ``group_send`` is two scripts run by digest (stock: four round
trips, the script's text sent each time); ``group_add`` one pipelined trip
(stock: two). The stock backup set let a *cancelled* ``receive`` leave its
message for the next one; the reader is cancelled only when its event loop
ends, and a process-specific channel has no other reader, so its messages
would be lost with the process either way.
"""

from __future__ import annotations

import asyncio
import logging
import time

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer
from channels_redis.core import RedisChannelLayer
from redis.asyncio import BlockingConnectionPool

log = logging.getLogger(__name__)

# KEYS[1]: the group; ARGV[1]: memberships added before this are stale;
# ARGV[2]: "1" if the group ends with this message (``group_send_last``).
_GROUP_MEMBERS = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, ARGV[1])
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
if ARGV[2] == '1' then
    redis.call('DEL', KEYS[1])
end
return members
"""

# KEYS: channel keys; ARGV: a message for each, a capacity for each, then the
# time now, the keys' expiry and the time before which messages are stale.
# The stock layer's send: drop stale messages, refuse a full channel, add.
_SEND_EACH = """
local n = #KEYS
local now, expiry, stale = ARGV[2 * n + 1], ARGV[2 * n + 2], ARGV[2 * n + 3]
local over = 0
for i = 1, n do
    redis.call('ZREMRANGEBYSCORE', KEYS[i], 0, stale)
    if redis.call('ZCARD', KEYS[i]) < tonumber(ARGV[n + i]) then
        redis.call('ZADD', KEYS[i], now, ARGV[i])
        redis.call('EXPIRE', KEYS[i], expiry)
    else
        over = over + 1
    end
end
return over
"""


class EmbeddedChannelLayer(InMemoryChannelLayer):
    sweep_interval = 1.0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._last_sweep = 0.0

    def _clean_expired(self):
        now = time.monotonic()
        if now - self._last_sweep < self.sweep_interval:
            return
        self._last_sweep = now
        super()._clean_expired()

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
        """Drop the queues nobody has read for ``unread_seconds``."""
        now = time.monotonic()
        if now - self._swept < self.unread_seconds:
            return
        self._swept = now
        unread = {
            name
            for name, queue in self.receive_buffer.items()
            if not queue.empty() and not queue._getters  # nobody waits on it
        }
        for name in unread & self._unread:
            del self.receive_buffer[name]
        self._unread = unread - self._unread

    async def group_add(self, group, channel):
        assert self.require_valid_group_name(group), "Group name not valid"
        assert self.require_valid_channel_name(channel), "Channel name not valid"
        key = self._group_key(group)
        connection = self.connection(self.consistent_hash(group))
        async with connection.pipeline(transaction=False) as pipe:
            pipe.zadd(key, {channel: time.time()})
            pipe.expire(key, self.group_expiry)
            await pipe.execute()

    async def group_send(self, group, message):
        await self._group_send(group, message, last=False)

    async def group_send_last(self, group, message, *, skip: str = ""):
        """``group_send`` to every member but ``skip`` (who knows already),
        and the group ends in the same script: its members are out of it
        without a trip of their own (see tokens.events)."""
        await self._group_send(group, message, last=True, skip=skip)

    async def _group_send(self, group, message, *, last: bool, skip: str = ""):
        assert self.require_valid_group_name(group), "Group name not valid"
        connection = self.connection(self.consistent_hash(group))
        members = await connection.register_script(_GROUP_MEMBERS)(
            keys=[self._group_key(group)],
            args=[int(time.time()) - self.group_expiry, "1" if last else "0"],
        )
        channels = [member.decode("utf8") for member in members]
        by_connection, messages, capacities = self._map_channel_keys_to_connection(
            [channel for channel in channels if channel != skip], message
        )
        for index, keys in by_connection.items():
            connection = self.connection(index)
            now = time.time()
            over = await connection.register_script(_SEND_EACH)(
                keys=keys,
                args=[
                    *(messages[key] for key in keys),
                    *(capacities[key] for key in keys),
                    now,
                    self.expiry,
                    int(now) - int(self.expiry),
                ],
            )
            if over:
                log.info("%s channels over capacity in group %s", over, group)
