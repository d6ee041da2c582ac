"""The embedded channel layer: Channels' in-memory layer, with its expiry
sweep run at most once a second.

The stock layer sweeps every channel and group on *every* ``receive``; with a
thousand device sockets each waiting in ``receive``, that sweep dominated the
server's profile (bench/push.py). Messages expire after 60 s and group
memberships after a day, so sweeping once a second changes nothing a client
can see.
"""

from __future__ import annotations

import time

from channels.layers import InMemoryChannelLayer


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
