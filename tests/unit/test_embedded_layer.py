"""The embedded channel layer's expiry sweep (config.layers): what the stock
in-memory layer expires, it expires too, only less often."""

from __future__ import annotations

import asyncio
import time

from config.layers import EmbeddedChannelLayer
from tests.ws.test_token_status import run_async


def layer(**kwargs) -> EmbeddedChannelLayer:
    made = EmbeddedChannelLayer(**kwargs)
    made._last_sweep = made._last_group_sweep = 0.0  # due now
    return made


def test_an_expired_message_goes_and_its_channel_leaves_its_groups():
    async def main():
        lay = layer(expiry=0)
        await lay.group_add("push", "gone.inmemory!a")
        await lay.group_add("push", "here.inmemory!b")
        await lay.send("gone.inmemory!a", {"type": "x"})
        await asyncio.sleep(0.01)
        await lay.group_send("push", {"type": "y"})  # sweeps first
        return lay

    lay = run_async(main)
    # "gone" had a message nobody read in time: out of its groups, and the
    # message sent after the sweep waits for "here" alone.
    assert list(lay.groups["push"]) == ["here.inmemory!b"]
    assert "gone.inmemory!a" not in lay.channels
    assert lay.channels["here.inmemory!b"].qsize() == 1


def test_a_waiting_consumers_empty_queue_is_kept():
    async def main():
        lay = layer(expiry=0)
        waiting = asyncio.create_task(lay.receive("phone.inmemory!c"))
        await asyncio.sleep(0)
        lay._clean_expired()
        assert "phone.inmemory!c" in lay.channels
        await lay.send("phone.inmemory!c", {"type": "z"})
        return await asyncio.wait_for(waiting, 1)

    assert run_async(main) == {"type": "z"}


def test_old_memberships_end_at_the_group_sweep_only():
    async def main():
        lay = layer(group_expiry=10)
        await lay.group_add("tokens", "old.inmemory!d")
        await lay.group_add("tokens", "new.inmemory!e")
        lay.groups["tokens"]["old.inmemory!d"] = time.time() - 20
        lay._last_group_sweep = time.monotonic()  # swept just now
        lay._clean_expired()
        kept = list(lay.groups["tokens"])
        lay._last_sweep = lay._last_group_sweep = 0.0
        lay._clean_expired()
        return kept, list(lay.groups["tokens"])

    kept, after = run_async(main)
    assert kept == ["old.inmemory!d", "new.inmemory!e"]
    assert after == ["new.inmemory!e"]


def test_the_sweep_reads_no_empty_queue():
    """Waiting consumers' queues (10,000 on a busy process) are passed over
    without a method call each: a queue whose ``empty`` is called fails."""

    class Watched(asyncio.Queue):
        def empty(self):
            raise AssertionError("an empty queue was looked into")

    lay = layer(expiry=0)
    for i in range(100):
        lay.channels[f"p.inmemory!{i}"] = Watched()
    lay._clean_expired()
    assert len(lay.channels) == 100
