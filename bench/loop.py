"""The load generator's event loop."""

from __future__ import annotations

import uvloop


def run(main):
    """Run coroutine ``main`` to its end on uvloop (as the server runs): the
    generator shares this machine's cores with the server it measures, and
    on Python's own loop it takes about half again the CPU a request."""
    return uvloop.run(main)
