"""Websocket routes, and the HTTP paths whose views are async."""

from django.urls import path

from tokens import consumers

# HTTP paths served by async views (waiting on the channel layer): these run
# on Django's stock async handler instead of the one-hop sync chain.
ASYNC_HTTP_PREFIXES: tuple[str, ...] = ("/api/v1/auth/push/",)

websocket_urlpatterns = [
    path("ws/token-status/", consumers.TokenStatusConsumer.as_asgi()),
    path("ws/device/", consumers.DeviceConsumer.as_asgi()),
    path("ws/push/", consumers.PushStatusConsumer.as_asgi()),
    path("ws/echo/", consumers.EchoConsumer.as_asgi()),
]
