"""The benchmarks' keep-alive HTTP client (``bench.validate.Connection``):
answers cut anywhere, several on one connection, "Connection: close" seen,
and a server that hangs up, mid-answer or between two requests, fails the
request instead of leaving it waiting."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

from bench.loop import run as run_loop
from bench.validate import Connection


def run(main):
    """Run ``main`` on the generator's loop, on a thread of its own: the
    browser tests leave Playwright's event loop in the main thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run_loop, main).result()


ANSWERS = [
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    b'Content-Length: 20\r\n\r\n{"result": "accept"}',
    b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n{}",
    b"HTTP/1.1 429 Too Many Requests\r\nConnection: close\r\n"
    b"Content-Length: 5\r\n\r\nslow!",
]


async def serve(answers, cut):
    """A server answering each request with the next answer, written in
    pieces of ``cut`` bytes; what it read of each request is kept."""
    seen = []

    async def handle(reader, writer):
        for answer in answers:
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
            seen.append(head + await reader.readexactly(length))
            for i in range(0, len(answer), cut):
                writer.write(answer[i : i + cut])
                await writer.drain()
                await asyncio.sleep(0)
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], seen


@pytest.mark.parametrize("cut", [1, 7, 1000])
def test_answers_are_read_whole_however_they_arrive(cut):
    async def main():
        server, port, seen = await serve(ANSWERS, cut)
        conn = Connection(port)
        await conn.open()
        answers = []
        for i in range(3):
            answers.append(await conn.request("POST", "/x", b'{"n": %d}' % i, "k"))
            assert conn.closing is (i == 2)
        conn.close()
        server.close()
        return answers, seen

    answers, seen = run(main())
    assert answers == [(200, b'{"result": "accept"}'), (201, b"{}"), (429, b"slow!")]
    assert seen[1].startswith(b"POST /x HTTP/1.1\r\n")
    assert b"Authorization: Bearer k\r\n" in seen[1]
    assert seen[1].endswith(b'\r\n\r\n{"n": 1}')


def test_a_server_hanging_up_mid_answer_fails_the_request():
    async def main():
        server, port, _ = await serve([ANSWERS[0][:30]], 1000)
        conn = Connection(port)
        await conn.open()
        try:
            with pytest.raises(ConnectionResetError):
                await asyncio.wait_for(conn.request("POST", "/x", b"{}"), 5)
        finally:
            server.close()

    run(main())


def test_a_request_on_a_connection_the_server_closed_between_requests_fails():
    async def main():
        server, port, _ = await serve([ANSWERS[1]], 1000)  # then hangs up
        conn = Connection(port)
        await conn.open()
        try:
            assert await conn.request("POST", "/x", b"{}") == (201, b"{}")
            await asyncio.sleep(0.05)  # the hang-up arrives
            with pytest.raises(ConnectionResetError):
                await asyncio.wait_for(conn.request("POST", "/x", b"{}"), 5)
        finally:
            server.close()

    run(main())
