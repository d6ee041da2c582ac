"""Error pages: never a traceback; a database that went away is a 503.

Django turns an exception from any layer (a view, the session middleware, …)
into a call of ``handler500`` with the exception still being handled, so one
place tells "the database is unreachable" (retry shortly) from a defect.
"""

from __future__ import annotations

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse

UNAVAILABLE = "Tessera cannot reach its database just now. Try again in a moment."


def _database_down() -> bool:
    error = sys.exc_info()[1]
    return isinstance(error, OperationalError | InterfaceError)


def server_error(request):
    down = _database_down()
    status = 503 if down else 500
    code, detail = (
        ("unavailable", UNAVAILABLE)
        if down
        else (
            "server_error",
            "Something went wrong on the server. It has been recorded.",
        )
    )
    if request.path.startswith("/api/"):
        response = JsonResponse({"error": code, "detail": detail}, status=status)
    else:
        response = HttpResponse(
            f"<!doctype html><title>Tessera</title><h1>{detail}</h1>",
            status=status,
        )
    if down:
        response["Retry-After"] = "5"
    return response
