"""SQLite's WAL checkpoints, run beside the requests instead of inside one.

In WAL mode SQLite appends each commit to the ``-wal`` file and, by
default, the commit that takes the log past 1,000 pages also copies the log
back into the database file and syncs it to disk (an automatic
checkpoint) before it returns. On the server that was one validation or
push answer in every hundred or so waiting several milliseconds for the
disk: the benchmarks' p99 (``bench/push.py``: COMMIT p50 0.15 ms, p99
5.2 ms).

So the server turns automatic checkpoints off on its own connections and a
background thread runs a PASSIVE checkpoint every half second, on a
connection of its own. A passive checkpoint never waits for readers or
writers, so requests go on committing while it copies and syncs; as soon
as it has caught up, the next commit starts the log again from its
beginning, so the file stays the size a few seconds of writes need.
Management commands and other processes keep SQLite's default, so a
long import still checkpoints by itself. Durability is unchanged: with
``synchronous=NORMAL`` a commit was never synced to disk by itself in WAL
mode; the checkpoint's sync is what moves, not what is promised.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

from django.db.backends.signals import connection_created

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 0.5

_started: set[str] = set()
_lock = threading.Lock()


def _no_automatic_checkpoints(sender, connection, **kwargs) -> None:
    if (
        connection.vendor == "sqlite"
        and str(connection.settings_dict["NAME"]) in _started
    ):
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_autocheckpoint=0")


def checkpoint_once(path: str) -> tuple[int, int, int]:
    """One passive checkpoint of ``path``: (busy, log pages, pages copied)."""
    # mode=rw: never create the file (a deleted database stays deleted).
    db = sqlite3.connect(f"{Path(path).as_uri()}?mode=rw", uri=True, timeout=0)
    try:
        return db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    finally:
        db.close()


def _run(path: str, stop: threading.Event) -> None:
    while not stop.wait(INTERVAL_SECONDS):
        if not Path(path).exists():  # the database went away: so do we
            return
        try:
            checkpoint_once(path)
        except sqlite3.Error as exc:  # locked, say: the next round tries again
            log.warning("background checkpoint of %s failed: %s", path, exc)


def start(connection) -> threading.Event | None:
    """Checkpoint ``connection``'s database in the background from now on
    (once per database file and process). Returns the thread's stop event;
    None where there is nothing to do (not SQLite, or in memory)."""
    if connection.vendor != "sqlite" or connection.is_in_memory_db():
        return None
    path = str(connection.settings_dict["NAME"])
    with _lock:
        if path in _started:
            return None
        _started.add(path)
    connection_created.connect(_no_automatic_checkpoints, weak=False)
    if connection.connection is not None:  # already open: turn it off here too
        _no_automatic_checkpoints(None, connection)
    stop = threading.Event()
    threading.Thread(
        target=_run, args=(path, stop), name="tessera-checkpoint", daemon=True
    ).start()
    return stop
