"""Database work awaited from the event loop (consumers, long-polls): on
which thread it runs.

Channels' ``database_sync_to_async`` runs every call of a process on one
thread (asgiref's thread-sensitive executor). With SQLite that is right: it
has one writer, and threads would only queue on its lock (config.handlers).
With PostgreSQL it put every device answer, device sign-in and long-poll
check of a process in one queue, each waiting for the round trips of those
before it: in a login storm that queue, not the CPU, was the limit (at 130
logins/s p99 0.14 s with half a core idle, at 140/s over 3 s: bench/storm.py).
``on_db_thread`` runs them on a pool of threads there, each on its own
connection; stale connections are closed before and after each call, as
Channels does. A pool of their own, not the loop's default one that HTTP
requests run on (config.handlers): a burst of slow requests (password
hashes, an SMTP send) must not hold the phones' answers behind it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from channels.db import DatabaseSyncToAsync
from django.db import connection

THREADS = 4  # a process's database connections for sockets and long-polls


@functools.cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(THREADS, thread_name_prefix="tessera-db")


def one_writer() -> bool:
    """Whether the database takes one writer at a time (SQLite): its work
    then runs on one thread, everywhere (here, config.handlers, RADIUS)."""
    return connection.vendor == "sqlite"


def on_db_thread(fn: Callable) -> Callable:
    """``fn`` as a coroutine function that runs it on a database thread."""
    if one_writer():
        return DatabaseSyncToAsync(fn)  # Channels' one thread
    return DatabaseSyncToAsync(fn, thread_sensitive=False, executor=_pool())
