"""Django's PostgreSQL backend with a health check that costs no round trip.

Django checks a persistent connection before each request's first query
(``CONN_HEALTH_CHECKS``) by sending ``SELECT 1``: on a validation that was
one round trip of six, in daphne and in PostgreSQL. The same thing is learnt
locally. A connection that sits idle between requests has nothing to read;
when PostgreSQL restarts or ends the session, its backend sends a FATAL
message and closes the socket, which makes the socket readable. So a
connection is usable when psycopg still holds it open and unbroken, it is
idle outside a transaction, and its socket has nothing waiting. Anything
unasked-for waiting sends Django's own ``SELECT 1`` after all (over TLS
the socket may hold a record of the protocol's own), and a connection that
fails it is closed and replaced, as before.
"""

from __future__ import annotations

import select

from django.db.backends.postgresql import base
from psycopg import pq


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        connection = self.connection
        if connection is None or connection.closed or connection.broken:
            return False
        if connection.info.transaction_status != pq.TransactionStatus.IDLE:
            return False
        # poll, not select: a process holding thousands of sockets (phones)
        # gives its database connections descriptors above select's 1,024,
        # where select raises: every request's check failed and replaced the
        # connection (a login storm reconnected for each answer).
        poller = select.poll()
        try:
            poller.register(connection.fileno(), select.POLLIN)
            waiting = poller.poll(0)
        except (OSError, ValueError):
            return False
        # Something unasked-for is waiting: most likely the server's goodbye,
        # but over TLS it may be a record of the protocol's own. Ask, as
        # Django would have.
        return not waiting or super().is_usable()
