"""config.daphne_server: daphne's once-a-second application checker looks
only at connections whose application finished or whose peer went, and
still does all daphne's reaping for them."""

from __future__ import annotations

import asyncio
import time

import pytest
from daphne import cli
from daphne import server as daphne_server

import config.asgi  # noqa: F401  (installs the server class)
from config.daphne_server import ReapingServer
from tests.ws.test_token_status import run_async


class Protocol:
    def __init__(self):
        self.errors = []

    def handle_exception(self, exception):
        self.errors.append(exception)


class Tripwire:
    """Stands in for a running application that nothing should look at."""

    def done(self):
        raise AssertionError("the checker walked a connection that needs nothing")

    def cancel(self):
        raise AssertionError("the checker walked a connection that needs nothing")


@pytest.fixture
def no_reactor(monkeypatch):
    calls = []
    monkeypatch.setattr(
        daphne_server,
        "reactor",
        type("R", (), {"callLater": lambda *a: calls.append(a)}),
    )
    return calls


def test_daphne_builds_the_reaping_server():
    assert cli.CommandLineInterface.server_class is ReapingServer


def test_the_checker_reaps_what_is_due_and_walks_nothing_else(no_reactor):
    async def application(scope, receive, send):
        outcome = await receive()
        if outcome == "raise":
            raise ValueError("inside the application")
        if outcome == "hang":
            await asyncio.sleep(3600)

    async def run():
        server = ReapingServer(
            application=application, endpoints=["tcp:0"], application_close_timeout=0
        )
        server.connections, server._due = {}, set()

        def connect():
            protocol = Protocol()
            server.protocol_connected(protocol)
            return protocol, server.create_application(protocol, {"type": "http"})

        quiet = [connect()[0] for _ in range(1000)]
        for protocol in quiet:  # running, peer there: nothing to do
            server.connections[protocol]["application_instance"] = Tripwire()
        finished, finished_queue = connect()
        gone, gone_queue = connect()
        failed, failed_queue = connect()
        stuck, stuck_queue = connect()
        finished_queue.put_nowait("end")
        gone_queue.put_nowait("end")
        failed_queue.put_nowait("raise")
        stuck_queue.put_nowait("hang")
        await asyncio.sleep(0.01)  # the applications run; their callbacks note them
        server.protocol_disconnected(gone)
        server.protocol_disconnected(stuck)
        server.connections[stuck]["disconnected"] = time.time() - 1

        server.application_checker()  # the walk would trip on any quiet one
        assert "application_instance" not in server.connections[finished]
        assert gone not in server.connections
        assert [str(e) for e in failed.errors] == ["inside the application"]
        assert "application_instance" not in server.connections[failed]
        task = server.connections[stuck]["application_instance"]
        await asyncio.sleep(0.01)
        assert task.cancelled()  # past its close timeout
        server.application_checker()
        assert stuck not in server.connections
        assert len(server.connections) == 1000 + 2  # the quiet ones, finished, failed
        assert len(no_reactor) == 2  # each check schedules the next, as daphne's

        server.protocol_disconnected(finished)
        server.protocol_disconnected(failed)
        server.application_checker()
        assert set(server.connections) == set(quiet)
        assert not server._due

    run_async(run)
