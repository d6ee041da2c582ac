"""tokens.threads.on_db_thread: with PostgreSQL, database work awaited by
consumers and long-polls runs side by side on the worker pool (one queue a
process had been a login storm's limit); with SQLite, on one thread (one
writer)."""

from __future__ import annotations

import asyncio
import threading

import pytest
from django.db import connection

from tests.ws.test_token_status import run_async
from tokens.models import AuditEvent
from tokens.threads import on_db_thread

pytestmark = pytest.mark.django_db(transaction=True)


def test_database_calls_of_a_process_run_side_by_side_on_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's threads only")
    both_in = threading.Barrier(2, timeout=5)

    def query(n: int) -> int:
        count = AuditEvent.objects.count()  # each thread on its own connection
        both_in.wait()  # raises if the other call waits behind this one
        # Their own pool, not the one HTTP requests queue on.
        assert threading.current_thread().name.startswith("tessera-db")
        return count + n

    async def run():
        return await asyncio.gather(on_db_thread(query)(1), on_db_thread(query)(2))

    assert run_async(run) == [1, 2]


def test_database_calls_share_one_thread_on_sqlite():
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's one writer only")

    def where() -> int:
        AuditEvent.objects.count()
        return threading.get_ident()

    async def run():
        return await asyncio.gather(*(on_db_thread(where)() for _ in range(4)))

    assert len(set(run_async(run))) == 1
