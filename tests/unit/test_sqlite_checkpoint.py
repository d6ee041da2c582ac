"""The server's WAL checkpoints run in a background thread, not in a commit."""

from __future__ import annotations

import time

import pytest
from django.db import connections
from django.db.backends.sqlite3.base import DatabaseWrapper

from config import sqlite_checkpoint


def wrapper(path, alias) -> DatabaseWrapper:
    settings = {**connections.settings["default"], "NAME": str(path)}
    if "sqlite3" not in settings["ENGINE"]:
        pytest.skip("SQLite only")
    return DatabaseWrapper(settings, alias=alias)


def pragma(db: DatabaseWrapper, name: str):
    with db.cursor() as cursor:
        cursor.execute(f"PRAGMA {name}")
        return cursor.fetchone()[0]


@pytest.fixture(autouse=True)
def _own_databases(django_db_blocker):
    """These tests open their own database files, not the test database."""
    with django_db_blocker.unblock():
        yield


def test_commits_leave_the_checkpoints_to_the_background_thread(tmp_path, monkeypatch):
    monkeypatch.setattr(sqlite_checkpoint, "INTERVAL_SECONDS", 0.05)
    seen = []
    real = sqlite_checkpoint.checkpoint_once

    def recorded(path):
        seen.append(real(path))
        return seen[-1]

    monkeypatch.setattr(sqlite_checkpoint, "checkpoint_once", recorded)
    server = wrapper(tmp_path / "server.sqlite3", "ckpt-server")
    server.ensure_connection()
    assert pragma(server, "journal_mode") == "wal"
    assert pragma(server, "wal_autocheckpoint") == 1000  # SQLite's default
    stop = sqlite_checkpoint.start(server)
    try:
        assert stop is not None
        assert sqlite_checkpoint.start(server) is None  # once per file
        assert pragma(server, "wal_autocheckpoint") == 0
        later = wrapper(tmp_path / "server.sqlite3", "ckpt-later")
        assert pragma(later, "wal_autocheckpoint") == 0  # new connections too
        elsewhere = wrapper(tmp_path / "other.sqlite3", "ckpt-other")
        assert pragma(elsewhere, "wal_autocheckpoint") == 1000
        with server.cursor() as cursor:
            cursor.execute("CREATE TABLE t (x TEXT)")
            for _ in range(300):  # well past 1,000 pages of log
                cursor.execute("INSERT INTO t VALUES (?)", ["x" * 20_000])
        deadline = time.monotonic() + 10
        while not any(log > 1000 and done == log for _, log, done in seen):
            assert time.monotonic() < deadline, seen
            time.sleep(0.05)
        with server.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM t")
            assert cursor.fetchone()[0] == 300
    finally:
        stop.set()
        for db in (server, locals().get("later"), locals().get("elsewhere")):
            if db is not None:
                db.close()


def test_memory_databases_and_other_engines_are_left_alone(tmp_path):
    memory = wrapper(":memory:", "ckpt-memory")
    assert sqlite_checkpoint.start(memory) is None


def test_a_deleted_database_is_not_created_again(tmp_path):
    import sqlite3

    path = tmp_path / "gone.sqlite3"
    with pytest.raises(sqlite3.OperationalError):
        sqlite_checkpoint.checkpoint_once(str(path))
    assert not path.exists()
