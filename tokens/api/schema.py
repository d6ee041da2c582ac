"""OpenAPI for the one async view drf-spectacular cannot see."""

from __future__ import annotations

STATUS_SCHEMA = {
    "type": "object",
    "required": ["id", "state"],
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "state": {
            "type": "string",
            "enum": ["pending", "approved", "denied", "expired"],
        },
        "serial": {
            "type": "string",
            "description": "The approving token (approved only).",
        },
        "fraud": {
            "type": "boolean",
            "description": 'The user answered "This wasn\'t me" (denied only).',
        },
    },
}


def add_async_paths(result, generator, request, public):
    """Documents ``GET /api/v1/auth/push/{id}`` (``tokens.api.push_wait``)."""
    error = {"$ref": "#/components/schemas/ErrorResponse"}
    result.setdefault("paths", {})["/api/v1/auth/push/{id}"] = {
        "get": {
            "operationId": "auth_push_status",
            "summary": "Wait for the outcome of a push approval",
            "description": (
                "Answers as soon as the user approves or denies on the phone, "
                "when the request expires, or after `wait` seconds with "
                "`pending`. Only the application that started the push can "
                "read it."
            ),
            "tags": ["relying party"],
            "security": [{"ApiKey": []}],
            "parameters": [
                {
                    "name": "id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "format": "uuid"},
                },
                {
                    "name": "wait",
                    "in": "query",
                    "required": False,
                    "description": "Seconds to wait for the outcome, 0 to 25.",
                    "schema": {"type": "integer", "minimum": 0, "maximum": 25},
                },
            ],
            "responses": {
                "200": {
                    "description": "The state (pending after the wait)",
                    "content": {"application/json": {"schema": STATUS_SCHEMA}},
                },
                **{
                    code: {
                        "description": text,
                        "content": {"application/json": {"schema": error}},
                    }
                    for code, text in (
                        ("400", "Invalid wait"),
                        ("401", "Missing or invalid API key"),
                        ("404", "Unknown push request"),
                    )
                },
            },
        }
    }
    return result


def closed_request_bodies(result, generator, request, public):
    """Request bodies refuse unknown fields (``StrictSerializer``): say so."""
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request") and component.get("type") == "object":
            component["additionalProperties"] = False
    return result
