"""daphne's server, looking only at the connections that need it.

Once a second daphne's ``application_checker`` walks *every* connection: it
reaps an application that has finished (logging its error, answering 500 to
an HTTP request it left unanswered), drops a connection whose peer has gone
once its application is done, and cancels an application that is still
running ``application_close_timeout`` seconds after its peer went. A
connection whose peer is there and whose application runs needs none of
that, and with 5,000 phones on a process those were nearly all of them: the
walk was 7.8 % of a process's CPU in a login storm (bench/storm.py, py-spy)
and most of an idle server's.

``ReapingServer`` notes the two events that make a connection need the
checker, as they happen (its application finished: a done callback; its
peer went: ``protocol_disconnected``), and runs daphne's own checker on
those connections only, each second as before. A connection whose peer went
while its application still runs stays on the list until one of daphne's
rules removes it. daphne's command line builds ``server_class``; ``install``
(called by config.asgi, which daphne imports first) points it here.
"""

from __future__ import annotations

from daphne import cli
from daphne.server import Server


class ReapingServer(Server):
    def run(self):
        self._due: set = set()
        super().run()

    def protocol_disconnected(self, protocol):
        super().protocol_disconnected(protocol)
        self._due.add(protocol)

    def create_application(self, protocol, scope):
        queue = super().create_application(protocol, scope)
        instance = self.connections.get(protocol, {}).get("application_instance")
        if instance is not None:
            instance.add_done_callback(lambda _: self._due.add(protocol))
        return queue

    def application_checker(self):
        everything, due = self.connections, self._due
        self._due = set()
        # daphne's checks, on the connections due only (it schedules itself
        # again in a second); the details dicts are the same objects.
        self.connections = {p: everything[p] for p in due if p in everything}
        try:
            super().application_checker()
        finally:
            checked, self.connections = self.connections, everything
            for protocol in due:
                details = checked.get(protocol)
                if details is None:
                    everything.pop(protocol, None)  # reaped
                elif "disconnected" in details and details.get("application_instance"):
                    self._due.add(protocol)  # its close timeout still runs


def install() -> None:
    cli.CommandLineInterface.server_class = ReapingServer
