"""Websocket routes. Consumers arrive with push (PROTOCOL §4)."""

websocket_urlpatterns: list = []
