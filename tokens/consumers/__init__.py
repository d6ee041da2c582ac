"""Websocket consumers: thin, they authenticate, join groups and forward.

``device`` is the device protocol's socket, ``frames`` its pure frame check,
``pages`` the portal pages' sockets (and the session keys they read).
"""

from tokens.consumers.basic import EchoConsumer, NoRouteConsumer
from tokens.consumers.device import DeviceConsumer
from tokens.consumers.frames import frame_problem
from tokens.consumers.pages import (
    PUSH_SESSION_KEY,
    WATCH_SESSION_KEY,
    PushStatusConsumer,
    TokenStatusConsumer,
)

__all__ = [
    "PUSH_SESSION_KEY",
    "WATCH_SESSION_KEY",
    "DeviceConsumer",
    "EchoConsumer",
    "NoRouteConsumer",
    "PushStatusConsumer",
    "TokenStatusConsumer",
    "frame_problem",
]
