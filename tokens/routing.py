"""Websocket routes, and the HTTP paths served by Channels consumers."""

from django.urls import path, re_path

from tokens import consumers
from tokens.api.push_wait import NotFoundConsumer, PushStatusConsumer

# HTTP paths that wait on the channel layer (long-polls): served by Channels
# consumers, outside Django's middleware chain, holding no thread.
ASYNC_HTTP_PREFIXES: tuple[str, ...] = ("/api/v1/auth/push/",)

http_urlpatterns = [
    path("api/v1/auth/push/<str:challenge_id>", PushStatusConsumer.as_asgi()),
    re_path(r"", NotFoundConsumer.as_asgi()),
]

# Sockets of browser pages: they act for the session in the cookie, so
# config.asgi checks their Origin and loads the session.
websocket_urlpatterns = [
    path("ws/token-status/", consumers.TokenStatusConsumer.as_asgi()),
    path("ws/push/", consumers.PushStatusConsumer.as_asgi()),
    path("ws/echo/", consumers.EchoConsumer.as_asgi()),
    re_path(r"", consumers.NoRouteConsumer.as_asgi()),  # refused, never a 500
]

# Sockets authenticated by signatures alone (PROTOCOL §4): no cookie means
# nothing to forge across sites, and a native client sends no Origin.
signed_websocket_urlpatterns = [
    path("ws/device/", consumers.DeviceConsumer.as_asgi()),
]
