"""Consumers that dispatch a message without a hop to the database thread.

Channels (4.2 and later) runs ``close_old_connections`` on the database
thread before handling every message a consumer receives: each websocket
frame and each channel-layer event waits for a round trip to that thread,
and behind whatever database work is queued there. Measured on a push
answer: 0.6 ms between daphne receiving the frame and the consumer seeing
it, a quarter of the whole answer's latency, and the same again for every
challenge delivered to a device.

Tessera's consumers reach the database only through
``tokens.threads.on_db_thread`` (Channels' ``DatabaseSyncToAsync``), which
closes stale connections in the database thread itself, before and after
each call. So the per-message hop bought
nothing here; ``DirectDispatch`` dispatches as Channels did before it.

A frame whose handling fails unexpectedly closes that socket with 4011 and
is logged; the consumer lives on to hear its own disconnect, so whatever it
holds (a socket slot of its address, group memberships) is released however
the socket ends. (Not RFC 6455's 1011: daphne lets an application close
with 1000 or 3000–4999 only; any other code raised in the consumer, killed
it, and so leaked what it held. 4000 + the RFC's code, as 4009 for a frame
too big.)
"""

from __future__ import annotations

import logging

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer

log = logging.getLogger(__name__)

# Close codes an application may send through daphne: 4000 + RFC 6455's.
TOO_BIG = 4009
INTERNAL_ERROR = 4011


class DirectDispatch:
    async def dispatch(self, message):
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        if message["type"] != "websocket.receive":
            await handler(message)
            return
        try:
            await handler(message)
        except StopConsumer:
            raise
        except Exception:
            log.exception("a websocket frame failed; closing the socket")
            await self.close(code=INTERNAL_ERROR)
