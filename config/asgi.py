"""ASGI entry point: Django for HTTP, Channels for websockets.

HTTP requests run through ``PooledSyncASGIHandler`` (one thread hop per
request, see ``config.handlers``); paths that serve async views (long-polls)
go to Django's stock async handler.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_async_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from config.handlers import PooledSyncASGIHandler  # noqa: E402
from tokens.routing import ASYNC_HTTP_PREFIXES, websocket_urlpatterns  # noqa: E402

django_sync_app = PooledSyncASGIHandler()


async def http_app(scope, receive, send):
    path = scope.get("path", "")
    if path.startswith(ASYNC_HTTP_PREFIXES):
        return await django_async_app(scope, receive, send)
    return await django_sync_app(scope, receive, send)


application = ProtocolTypeRouter(
    {
        "http": http_app,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
