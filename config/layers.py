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
process's channel (the stock ``receive_single``: the same Redis commands,
backup queue and cleaning) and puts each message in its consumer's queue;
``receive`` waits on that queue alone. When the reader fails (Redis gone),
every consumer's ``receive`` raises its error, as the stock layer raised it
in the one that held the lock (and then in each next one), so each socket
closes and its app reconnects; the next ``receive`` starts a new reader. A
reader lives as long as its event loop.
"""

from __future__ import annotations

import asyncio
import time

from channels.layers import InMemoryChannelLayer
from channels_redis.core import RedisChannelLayer


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


class _Failed:
    """Put in the consumers' queues when the reader fails."""

    def __init__(self, error: BaseException):
        self.error = error


class RedisLayer(RedisChannelLayer):
    # A consumer waits in receive() again as soon as it has handled a
    # message; a queue left unread this long belongs to a socket or
    # long-poll that is gone (the stock layer's buffer kept those forever).
    unread_seconds = 60.0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._reader: asyncio.Task | None = None
        self._unread: set[str] = set()
        self._swept = time.monotonic()

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
        try:
            while True:
                channel, message = await self.receive_single(process)
                for name in channel if isinstance(channel, list) else [channel]:
                    self.receive_buffer[name].put_nowait(message)
                self._sweep()
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - handed to every consumer
            if self._reader is asyncio.current_task():
                self._reader = None
            for queue in list(self.receive_buffer.values()):
                queue.put_nowait(_Failed(error))

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
