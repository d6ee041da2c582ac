"""``python -m config.serve [daphne's arguments]``: daphne on uvloop.

daphne runs Twisted on an asyncio event loop, and everything the sockets,
long-polls, HTTP hand-offs and the Redis channel layer do goes through that
loop's machinery, in Python. uvloop (libuv, in C) is a drop-in loop for it
(Twisted's asyncio reactor uses only the loop's public calls). Measured with
bench/validate.py, one process: a validation cost 2.1 ms of server CPU
instead of 2.7–3.6 ms. The policy is set before daphne makes its loop, which
it does when its server module is imported. ``TESSERA_LOOP=asyncio`` keeps
Python's own loop.
"""

from __future__ import annotations

import asyncio
import os


def install_loop() -> None:
    """Make the loops made from now on uvloop's, unless told otherwise."""
    if os.environ.get("TESSERA_LOOP", "uvloop") != "asyncio":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def main() -> None:
    install_loop()
    from daphne.cli import CommandLineInterface  # daphne makes its loop here

    CommandLineInterface.entrypoint()


if __name__ == "__main__":
    main()
