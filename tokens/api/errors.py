"""Every API error has the same body: ``{"error": code, "detail": sentence}``."""

from __future__ import annotations

from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from tokens.addresses import request_ip
from tokens.services.audit import audit_record
from tokens.services.errors import ServiceError

_CODES = {
    exceptions.ParseError: "malformed_request",
    exceptions.AuthenticationFailed: "unauthorized",
    exceptions.NotAuthenticated: "unauthorized",
    exceptions.PermissionDenied: "forbidden",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
    exceptions.NotAcceptable: "not_acceptable",
}


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "too_large"


class RequestTooDeep(exceptions.ParseError):
    """JSON nested past ``tokens.wire.MAX_JSON_DEPTH``: a request no client of
    ours sends, refused before the parser recurses into it."""

    default_code = "invalid_request"


def _sentence(detail) -> str:
    if isinstance(detail, dict):
        parts = []
        for field, errors in detail.items():
            text = (
                " ".join(str(e) for e in errors)
                if isinstance(errors, list)
                else str(errors)
            )
            parts.append(text if field == "non_field_errors" else f"{field}: {text}")
        return " ".join(parts)
    if isinstance(detail, list):
        return " ".join(str(e) for e in detail)
    return str(detail)


def error_response(code: str, detail: str, status_code: int, **extra) -> Response:
    return Response({"error": code, "detail": detail, **extra}, status=status_code)


_AUDITED = {
    exceptions.AuthenticationFailed: "api.unauthorized",
    exceptions.NotAuthenticated: "api.unauthorized",
    exceptions.Throttled: "api.throttled",
}


def _audit_refusal(exc, context) -> None:
    """401s and 429s leave a record: who knocked, where, how often."""
    action = next((a for k, a in _AUDITED.items() if isinstance(exc, k)), None)
    request = context.get("request")
    if action is None or request is None:
        return
    view = context.get("view")
    audit_record(
        action=action,
        outcome="failure",
        source="api",
        ip=request_ip(request),
        path=request.path[:200],
        **(
            {"scope": view.throttle_scope}
            if getattr(view, "throttle_scope", "")
            else {}
        ),
    )


def exception_handler(exc, context):
    if isinstance(exc, ServiceError):
        return error_response(exc.code, exc.detail, exc.status)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    _audit_refusal(exc, context)
    if isinstance(exc, exceptions.ValidationError):
        body = {
            "error": "invalid_request",
            "detail": _sentence(exc.detail),
            "fields": exc.detail if isinstance(exc.detail, dict) else {},
        }
    elif isinstance(exc, RequestTooLarge):
        body = {"error": "too_large", "detail": str(exc.detail)}
    elif isinstance(exc, RequestTooDeep):
        body = {"error": "invalid_request", "detail": str(exc.detail)}
    else:
        code = next((c for k, c in _CODES.items() if isinstance(exc, k)), "error")
        body = {"error": code, "detail": _sentence(exc.detail)}
    response.data = body
    return response
