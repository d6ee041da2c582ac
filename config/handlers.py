"""An ASGI handler that runs each HTTP request on one pooled worker thread.

Django's stock ``ASGIHandler`` runs every async-capable middleware in async
mode, hopping to a worker thread for each ``process_request`` and
``process_response``, hops again for a sync view, and starts a fresh thread
per request (``ThreadSensitiveContext``). On a 2-core machine those
hand-offs, not the work, bound throughput: the trivial endpoint served ~110
requests/s. This handler loads the middleware chain in sync mode and runs the
whole request with one hop onto the event loop's reusable thread pool, the way
a threaded WSGI server would (~460 requests/s measured), while daphne keeps
the sockets and websockets. A slow request (an SMTP send) still blocks only
its own pool thread.

SQLite has a single writer: threads in a pool would only queue on its lock,
and its busy handler waits by sleeping (1, 2, 5 … 100 ms), which more than
halved validation throughput. With SQLite (the embedded default) requests
therefore run on one thread; with PostgreSQL they use the pool.

Database connections are thread-local; ``close_old_connections`` runs in the
request's own thread before and after it, so ``CONN_MAX_AGE`` and health
checks behave as under WSGI.

On that one thread, a password hash (hundreds of milliseconds by design)
would hold every validation behind it: four clients posting wrong admin
passwords raised validation p50 from 8 ms to over a second. So with SQLite
only the API and the health check run on that thread; pages run on threads
of their own: forms (POSTs, where passwords are hashed) on one, and reading
a page (GET, HEAD) on another, so a flood of password posts does not hold
``GET /login/`` behind its hashes either (it went from 3 ms to 2 s). How
much hashing a stranger can cause is bounded in the portal's throttles.

Async views (long-polls that wait on the channel layer) belong on Django's
stock handler; ``config.asgi`` routes their paths there.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.db import close_old_connections

from tokens.events import announcing, send_announcements
from tokens.threads import one_writer

# Paths served on the API thread; every other page goes to the pages lane.
API_PREFIXES = ("/api/", "/healthz")


class PooledSyncASGIHandler(ASGIHandler):
    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)
        self.one_thread = one_writer()
        self.pages_lane = self.forms_lane = None
        if self.one_thread:
            self.pages_lane = ThreadPoolExecutor(1, thread_name_prefix="tessera-pages")
            self.forms_lane = ThreadPoolExecutor(1, thread_name_prefix="tessera-forms")

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP, not {scope['type']}.")
        await self.handle(scope, receive, send)

    def _respond_in_thread(self, request):
        close_old_connections()
        try:
            return self.get_response(request)
        finally:
            close_old_connections()

    async def get_response_async(self, request):
        # What the request announced (tokens.events) is sent from here, once
        # its thread is done, not by the thread hopping back to this loop.
        respond = announcing(self._respond_in_thread)
        if self.pages_lane is not None and not request.path.startswith(API_PREFIXES):
            reading = request.method in ("GET", "HEAD")
            response, announced = await sync_to_async(
                respond,
                thread_sensitive=False,
                executor=self.pages_lane if reading else self.forms_lane,
            )(request)
        else:
            response, announced = await sync_to_async(
                respond, thread_sensitive=self.one_thread
            )(request)
        await send_announcements(announced)
        return response
