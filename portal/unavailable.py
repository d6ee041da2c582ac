"""A service that cannot answer right now (the user directory is down)
becomes a clear page, never a traceback: status 503, what happened, and what
to do."""

from __future__ import annotations

from django.shortcuts import render

from tokens.services.errors import ServiceError


class UnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, ServiceError) and exception.status == 503:
            return render(
                request,
                "portal/unavailable.html",
                {"detail": exception.detail},
                status=503,
            )
        return None
