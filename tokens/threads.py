"""Database work awaited from the event loop (consumers, long-polls): on
which thread it runs.

Channels' ``database_sync_to_async`` runs every call of a process on one
thread (asgiref's thread-sensitive executor). With SQLite that is right: it
has one writer, and threads would only queue on its lock (config.handlers).
With PostgreSQL it put every device answer, device sign-in and long-poll
check of a process in one queue, each waiting for the round trips of those
before it: in a login storm that queue, not the CPU, was the limit (at 130
logins/s p99 0.14 s with half a core idle, at 140/s over 3 s: bench/storm.py).
``on_db_thread`` runs them on the loop's worker pool there, as HTTP requests
already run (config.handlers), each thread on its own connection; stale
connections are closed before and after each call, as Channels does.
"""

from __future__ import annotations

from collections.abc import Callable

from channels.db import DatabaseSyncToAsync
from django.db import connection


def on_db_thread(fn: Callable) -> Callable:
    """``fn`` as a coroutine function that runs it on a database thread."""
    return DatabaseSyncToAsync(fn, thread_sensitive=connection.vendor == "sqlite")
