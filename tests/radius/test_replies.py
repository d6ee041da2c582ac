"""The RADIUS server's retransmission cache (radius.server.Replies): every
reply answers retransmissions for CACHE_SECONDS however many there are,
the expired are forgotten as requests come, and a request costs the same
with 30,000 replies held as with none."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from radius import server
from radius.server import CACHE_SECONDS, Replies


@pytest.fixture
def clock(monkeypatch):
    now = SimpleNamespace(t=1000.0)
    monkeypatch.setattr(server, "time", SimpleNamespace(monotonic=lambda: now.t))
    return now


class Key:
    """A cache key that counts how often it is hashed."""

    hashed = 0

    def __init__(self, n: int):
        self.n = n

    def __hash__(self):
        Key.hashed += 1
        return self.n

    def __eq__(self, other):
        return isinstance(other, Key) and other.n == self.n


def test_a_reply_answers_retransmissions_for_its_lifetime(clock):
    replies = Replies()
    replies.put(("10.0.0.1", 1812, 7, b"a" * 16), None)
    assert replies.get(("10.0.0.1", 1812, 7, b"a" * 16)) == (True, None)
    clock.t += 1
    replies.put(("10.0.0.1", 1812, 7, b"a" * 16), b"reply")
    clock.t += CACHE_SECONDS - 0.5  # from the reply, not the request
    assert replies.get(("10.0.0.1", 1812, 7, b"a" * 16)) == (True, b"reply")
    clock.t += 1
    assert replies.get(("10.0.0.1", 1812, 7, b"a" * 16)) == (False, None)


def test_a_thousand_a_second_are_all_kept_their_lifetime_and_no_longer(clock):
    replies = Replies()
    for n in range(60_000):  # a minute at 1,000 requests/s
        clock.t += 0.001
        replies.put(n, b"reply")
    # The last 30 s are held (retransmissions answered), the first 30 s gone.
    assert 29_900 <= len(replies) <= 30_001
    assert replies.get(59_999) == (True, b"reply")
    assert replies.get(30_500) == (True, b"reply")
    assert replies.get(29_000) == (False, None)


def test_a_request_costs_the_same_however_many_replies_are_held(clock):
    replies = Replies()
    for n in range(30_000):
        clock.t += 0.0005
        replies.put(Key(n), b"reply")
    Key.hashed = 0
    for n in range(30_000, 31_000):
        clock.t += 0.0005
        replies.put(Key(n), b"reply")
    # The old cache rebuilt itself past 10,000: 30,000 hashes a request.
    assert Key.hashed < 10 * 1_000


def test_beyond_the_limit_the_oldest_go_first(clock, monkeypatch):
    monkeypatch.setattr(Replies, "limit", 100)
    replies = Replies()
    for n in range(150):
        replies.put(n, b"reply")
    assert len(replies) == 100
    assert replies.get(49) == (False, None)
    assert replies.get(50) == (True, b"reply")
