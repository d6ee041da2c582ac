"""The RADIUS authentication server (RFC 2865) inside Tessera's process.

It runs on the server's own event loop, beside daphne, so a push it starts
reaches the phone through the same channel layer as the portal's (the
in-memory one of the embedded default, Redis in production; several
processes share the port with SO_REUSEPORT, and the kernel keeps each NAS
socket on one process).

pyrad decodes and encodes the packets; the loop is ours because pyrad's
asyncio server calls its handlers synchronously, keys clients by exact
address, and has no retransmit cache: here each request is a task, its
database work runs on worker threads, and a push wait is a channel-layer
wait on the loop (no thread held), so 200 logins waiting on phones do not
slow passcode logins.

For every datagram, in order: the header is checked (short, long or
inconsistent packets are dropped); a retransmission (same source address and
port, identifier and authenticator; RFC 5080) is answered from the cache, or
ignored while the first is still being decided, so one login is one push and
one counter step; the source must be covered by a client (else dropped and
audited, at most once a minute per address); the Message-Authenticator must
be present and valid unless the client relaxes it (a wrong shared secret
therefore gets no reply); then the client's mode decides, and the reply
carries a Message-Authenticator first and the request's Proxy-State.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections

from radius import login, packets
from radius.clients import client_for
from tokens.services.audit import audit_record
from tokens.services.push.wait import wait_for_outcome
from tokens.threads import one_writer

log = logging.getLogger(__name__)
CACHE_SECONDS = 30  # a NAS retransmits within its timeout × retries
MAX_HASHING = 64  # password checks queued at once; more are dropped (retried)


def parse_address(text: str) -> tuple[str, int] | None:
    """``host:port`` (``[v6]:port``), or None for ``off``."""
    text = (text or "").strip()
    if text.lower() in ("", "off", "false", "no", "0"):
        return None
    host, _, port = text.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


class Replies:
    """Replies by (address, port, identifier, authenticator) for
    ``CACHE_SECONDS``; ``None`` marks a request still being decided.

    Kept in the order they expire (one lifetime, a clock that only moves
    on), so each ``put`` forgets the expired from the front, a few at a
    time. (It rebuilt the whole cache at every request once it held 10,000:
    a NAS sending over 333 requests/s, whose replies all live 30 s, made
    every request cost a walk of tens of thousands, and RADIUS fell from
    about 1,000 to 275 requests/s; bench/radius.py.) Beyond ``limit`` the
    oldest go early: a retransmission of one of those is decided again, and
    a passcode is refused the second time (spent), never accepted twice.
    """

    limit = 200_000

    def __init__(self):
        self._items: OrderedDict[tuple, tuple[float, bytes | None]] = OrderedDict()

    def get(self, key):
        found = self._items.get(key)
        if found is None or found[0] < time.monotonic():
            self._items.pop(key, None)
            return False, None
        return True, found[1]

    def put(self, key, value: bytes | None) -> None:
        now = time.monotonic()
        items = self._items
        items[key] = (now + CACHE_SECONDS, value)
        items.move_to_end(key)  # a reply lives CACHE_SECONDS from now
        while items:
            expires, _ = next(iter(items.values()))
            if expires >= now and len(items) <= self.limit:
                break
            items.popitem(last=False)

    def drop(self, key) -> None:
        self._items.pop(key, None)

    def __len__(self) -> int:
        return len(self._items)


def _in_thread(fn, *args, **kwargs):
    close_old_connections()
    try:
        return fn(*args, **kwargs)
    finally:
        close_old_connections()


class RadiusProtocol(asyncio.DatagramProtocol):
    def __init__(self):
        self.transport = None
        self.replies = Replies()
        self.tasks: set[asyncio.Task] = set()
        self.drops: dict[tuple[str, str], float] = {}  # (ip, reason): until
        self.warned: dict[str, float] = {}  # client: no MA warned until
        # SQLite has one writer: passcode work queues on one thread, as the
        # API's does. Steps that hash a password (hundreds of milliseconds by
        # design) run on a lane of their own, so passcode logins never wait
        # behind them.
        self.threads = ThreadPoolExecutor(
            1 if one_writer() else 8, thread_name_prefix="tessera-radius"
        )
        self.password_threads = ThreadPoolExecutor(
            2, thread_name_prefix="tessera-radius-passwords"
        )
        self.hashing = 0  # password checks queued or running

    def close(self) -> None:
        """Stop: queued work is dropped (a NAS retries elsewhere or later)."""
        for pool in (self.threads, self.password_threads):
            pool.shutdown(wait=False, cancel_futures=True)
        if self.transport is not None:
            self.transport.close()

    async def run(self, fn, *args, lane=None, **kwargs):
        return await sync_to_async(
            _in_thread, thread_sensitive=False, executor=lane or self.threads
        )(fn, *args, **kwargs)

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        try:
            _, ident, authenticator = packets.header(data)
        except packets.Malformed:
            self._dropped(addr[0], "malformed")
            return
        key = (addr[0], addr[1], ident, authenticator)
        seen, answer = self.replies.get(key)
        if seen:
            if answer is not None:
                self.transport.sendto(answer, addr)
            return  # a retransmission: never evaluated again
        self.replies.put(key, None)
        task = asyncio.get_running_loop().create_task(self.answer(data, addr, key))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _dropped(self, ip: str, reason: str, client: str = "") -> None:
        """Audit a dropped request, at most once a minute per address and
        reason (a flood must not fill the log)."""
        now = time.monotonic()
        if self.drops.get((ip, reason), 0) > now:
            return
        if len(self.drops) > 10_000:
            self.drops.clear()
        self.drops[(ip, reason)] = now + 60
        task = asyncio.get_running_loop().create_task(
            self.run(
                audit_record,
                action="radius.dropped",
                outcome="failure",
                source="radius",
                ip=ip,
                reason=reason,
                **({"client": client} if client else {}),
            )
        )
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def answer(self, data: bytes, addr, key) -> None:
        try:
            reply = await self.decide(data, addr)
        except Exception:
            log.exception("a RADIUS request failed")
            reply = None
        if reply is None:
            self.replies.drop(key)
            return
        self.replies.put(key, reply)
        if self.transport is not None:
            self.transport.sendto(reply, addr)

    async def decide(self, data: bytes, addr) -> bytes | None:
        ip = addr[0]
        found = await self.run(client_for, ip)
        if found is None:
            self._dropped(ip, "unknown client")
            return None
        client, secret = found
        try:
            request = packets.decode(data, secret)
        except packets.Malformed as exc:
            self._dropped(ip, f"malformed: {exc}", client.name)
            return None
        if request.has_message_authenticator:
            if not request.message_authenticator_ok():
                self._dropped(ip, "wrong Message-Authenticator", client.name)
                return None
        elif client.require_message_authenticator:
            self._dropped(ip, "no Message-Authenticator", client.name)
            return None
        elif self.warned.get(client.name, 0) < time.monotonic():
            self.warned[client.name] = time.monotonic() + 3600
            log.warning(
                "RADIUS client %s sends no Message-Authenticator (allowed for "
                "it): its requests can be forged on the path",
                client.name,
            )
        decision = await self.first_step(client, request, ip)
        if decision is None:
            return None
        if decision.kind == "wait":
            outcome = await wait_for_outcome(
                decision.push_id, client.name, client.push_wait_seconds, login.DOOR
            )
            state = (outcome or {}).get("state", "expired")
            decision = await self.run(login.after_push, client, decision, state)
        code = {
            "accept": packets.ACCEPT,
            "challenge": packets.CHALLENGE,
        }.get(decision.kind, packets.REJECT)
        return packets.reply(request, code, decision.message, decision.state)

    async def first_step(self, client, request, nas_ip) -> login.Decision | None:
        password = request.password()
        state = request.state()
        # The user's own address, as the NAS reports it (its own address
        # would make one user's guesses everyone's: all come from the NAS).
        ip = request.calling_station_ip()
        if password is None:  # no PAP password (CHAP, EAP…): not offered
            return login.REJECT
        if state is not None:
            return await self.run(
                login.resume, client, request.username, state, password, ip
            )
        if client.mode == client.Mode.PASSCODE:
            return await self.run(login.begin, client, request.username, password, ip)
        if self.hashing >= MAX_HASHING:  # a flood: the NAS will retry
            self._dropped(nas_ip, "busy", client.name)
            return None
        self.hashing += 1
        try:
            return await self.run(
                login.begin,
                client,
                request.username,
                password,
                ip,
                lane=self.password_threads,
            )
        finally:
            self.hashing -= 1


async def serve(address: tuple[str, int]) -> RadiusProtocol:
    """Listen on ``address`` (UDP); several processes may share it."""
    loop = asyncio.get_running_loop()
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if hasattr(socket, "SO_REUSEPORT"):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    _, protocol = await loop.create_datagram_endpoint(RadiusProtocol, sock=sock)
    return protocol


def start_with_server() -> None:
    """Called when the ASGI application loads under daphne: listen on
    ``TESSERA_RADIUS_ADDRESS`` once daphne's event loop runs (the reactor
    is Twisted's asyncio one, so the UDP endpoint lives on the same loop
    as the websockets). Elsewhere (a shell, a test) nothing listens."""
    address = parse_address(settings.TESSERA_RADIUS_ADDRESS)
    if address is None or "daphne.server" not in sys.modules:
        return

    from twisted.internet import reactor  # daphne's, installed already

    async def start():
        try:
            protocol = await serve(address)
        except OSError as exc:
            log.error("RADIUS cannot listen on %s:%s: %s", *address, exc)
            return
        reactor.addSystemEventTrigger("before", "shutdown", protocol.close)
        log.warning("RADIUS listening on %s:%s (UDP)", *address)

    reactor.callWhenRunning(lambda: asyncio.ensure_future(start()))
