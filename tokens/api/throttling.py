"""DRF throttles keyed on the real client address, with refusals audited."""

from __future__ import annotations

from rest_framework.throttling import ScopedRateThrottle

from tokens.addresses import request_ip


class ClientScopedRateThrottle(ScopedRateThrottle):
    """DRF's scoped throttle, keyed on ``tokens.addresses.request_ip``.

    DRF's own ``get_ident`` believes ``X-Forwarded-For`` from anyone (unless
    NUM_PROXIES is set), so a random header per request gave a fresh quota
    per request.
    """

    def get_ident(self, request):
        return request_ip(request) or "unknown"
