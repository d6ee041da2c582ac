"""``X-Tessera-Process: <name>`` on every response and websocket handshake
of a process that has a name (bin/production names them p1, p2, …), so an
operator (and the proxy test) can tell which process behind nginx answered."""

from __future__ import annotations


def with_process_header(app, name: str):
    if not name:
        return app
    header = (b"x-tessera-process", name.encode())

    async def named(scope, receive, send):
        async def send_named(message):
            if message["type"] in ("http.response.start", "websocket.accept"):
                message = {**message, "headers": [*message.get("headers", []), header]}
            await send(message)

        await app(scope, receive, send_named)

    return named
