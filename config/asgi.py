"""ASGI entry point: Django for HTTP, Channels for websockets.

HTTP requests run through ``PooledSyncASGIHandler`` (one thread hop per
request, see ``config.handlers``); long-polls that wait on the channel layer
go to Channels HTTP consumers (``tokens.routing.http_urlpatterns``).
"""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup(set_prefix=False)  # before the imports below touch models

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import re_path  # noqa: E402

from config.handlers import PooledSyncASGIHandler  # noqa: E402
from config.process_header import with_process_header  # noqa: E402
from tokens.routing import (  # noqa: E402
    ASYNC_HTTP_PREFIXES,
    http_urlpatterns,
    signed_websocket_urlpatterns,
    websocket_urlpatterns,
)

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
