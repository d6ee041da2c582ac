"""The PostgreSQL connection's health check (config.postgresql): no round
trip for a healthy connection, and a connection whose server session ended
(a restart, an administrator's kill) is found unusable and replaced before a
request meets it."""

from __future__ import annotations

import time

import psycopg
import pytest
from django.db import connection

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL's connections only"
)


def dsn():
    settings = connection.settings_dict
    return psycopg.conninfo.make_conninfo(
        dbname=settings["NAME"],
        user=settings["USER"],
        password=settings["PASSWORD"],
        host=settings["HOST"],
        port=settings["PORT"] or None,
    )


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def test_a_healthy_connection_is_checked_without_a_query(transactional_db):
    pid = backend_pid()
    assert connection.is_usable()
    # The backend's last statement is still ours, not a health check's.
    with psycopg.connect(dsn(), autocommit=True) as other:
        last = other.execute(
            "SELECT query FROM pg_stat_activity WHERE pid = %s", [pid]
        ).fetchone()[0]
    assert last == "SELECT pg_backend_pid()"


def test_an_ended_session_is_replaced_before_a_request_uses_it(transactional_db):
    pid = backend_pid()
    with psycopg.connect(dsn(), autocommit=True) as other:
        assert other.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()[0]
    for _ in range(50):  # the FATAL message and the close reach the socket
        if not connection.is_usable():
            break
        time.sleep(0.05)
    else:
        raise AssertionError("a terminated session still looked usable")
    # What Django does at a request's first query with CONN_HEALTH_CHECKS:
    connection.health_check_enabled, connection.health_check_done = True, False
    connection.close_if_health_check_failed()
    assert backend_pid() != pid  # a new session, and no error on the way


def test_a_connection_above_a_thousand_descriptors_is_checked_too(transactional_db):
    """A process with thousands of phones' sockets opens its database
    connections on descriptors above 1,024, beyond select()'s reach: the
    check must still find them usable (it had replaced every one of them at
    each request's first query)."""
    import os
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < 1200:
        pytest.skip("the process may not open 1,200 descriptors")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    held = []
    try:
        while not held or held[-1] < 1100:
            held.append(os.open(os.devnull, os.O_RDONLY))
        connection.close()
        pid = backend_pid()  # a new connection, on a descriptor above 1,100
        assert connection.connection.fileno() > 1024
        connection.health_check_enabled, connection.health_check_done = True, False
        connection.close_if_health_check_failed()
        assert backend_pid() == pid  # kept, not replaced
    finally:
        for fd in held:
            os.close(fd)
        connection.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_connection_inside_a_transaction_is_not_taken_for_idle(transactional_db):
    from django.db import transaction

    with transaction.atomic():
        backend_pid()
        assert not connection.is_usable()
    assert connection.is_usable()
