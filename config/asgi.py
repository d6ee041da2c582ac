"""ASGI entry point: Django for HTTP, Channels for websockets.

HTTP requests run through ``PooledSyncASGIHandler`` (one thread hop per
request, see ``config.handlers``); long-polls that wait on the channel layer
go to Channels HTTP consumers (``tokens.routing.http_urlpatterns``); RADIUS
(``radius.server``) listens on UDP on the same event loop.
"""

import gc
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup(set_prefix=False)  # before the imports below touch models

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import get_resolver, re_path  # noqa: E402

from config import daphne_http  # noqa: E402
from config.handlers import PooledSyncASGIHandler  # noqa: E402
from config.process_header import with_process_header  # noqa: E402
from radius.server import start_with_server as start_radius  # noqa: E402
from tokens.routing import (  # noqa: E402
    ASYNC_HTTP_PREFIXES,
    http_urlpatterns,
    signed_websocket_urlpatterns,
    websocket_urlpatterns,
)

daphne_http.install()
start_radius()  # RADIUS on daphne's loop, beside the websockets
django_sync_app = PooledSyncASGIHandler()
channels_http_app = URLRouter(http_urlpatterns)


async def http_app(scope, receive, send):
    path = scope.get("path", "")
    if path.startswith(ASYNC_HTTP_PREFIXES):
        return await channels_http_app(scope, receive, send)
    return await django_sync_app(scope, receive, send)


router = ProtocolTypeRouter(
    {
        "http": http_app,
        "websocket": URLRouter(
            [
                *signed_websocket_urlpatterns,
                re_path(
                    r"",
                    AllowedHostsOriginValidator(
                        AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
                    ),
                ),
            ]
        ),
    }
)

# bin/production names its processes; the name answers every request.
application = with_process_header(router, os.environ.get("TESSERA_PROCESS_NAME", ""))

# Everything loaded by now (Django, the apps, their URL and model tables:
# most of the heap) lives as long as the process. Freezing it keeps the
# cyclic garbage collector from walking it again on every full collection,
# which had taken 16% of a validation's CPU. A start-up collection first, so
# no garbage is frozen with it.
#
# Young objects are collected every 10,000 allocations (Python's default:
# 700): request-sized garbage mostly dies by reference count first (50,000
# doubled a validation's p99: each collection held the loop longer). A full
# collection walks every open socket's objects: with 5,000 phones on a
# process it held the loop for 0.5-0.6 s of CPU, and with a third threshold
# of 10 one came in the middle of a login storm, on each process, each time
# (bench/storm.py: p99 over a second at 100 logins/s). Now it waits for 100
# middle-generation collections of 20 young ones each (some 20 million
# allocations; none came during a storm), and cycles that outlived two
# collections wait that long to be freed (the storm: +16 MB a process over
# about 4,500 logins, freed then).
_ = get_resolver().url_patterns  # imports every view now, to be frozen too
gc.collect()
gc.freeze()
gc.set_threshold(10_000, 20, 100)
