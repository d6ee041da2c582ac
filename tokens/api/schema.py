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


def tidy_request_bodies(result, generator, request, public):
    """Request bodies refuse unknown fields (``StrictSerializer``): say so;
    each field is documented as one type ("string", not "string or
    string"); and the description says how to authenticate."""
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request") and component.get("type") == "object":
            component["additionalProperties"] = False
        for field in component.get("properties", {}).values():
            _one_type(field)
    result.setdefault("info", {})["description"] = (
        result["info"].get("description", "")
        + "\n\nRelying applications send `Authorization: Bearer <key>` (a key "
        "from `manage.py create_api_client` or the admin's API clients); "
        "devices sign their requests as the device protocol says."
    )
    return result


_TITLES = {"ipv4": "IPv4 address", "ipv6": "IPv6 address"}


def _one_type(field: dict) -> None:
    """An address field's IPv4/IPv6 alternatives, and an "or empty"
    alternative of a text field, become one string."""
    formats = field.get("anyOf")
    if formats and all(set(f) == {"format"} for f in formats):
        # Named alternatives ("IPv4 address | IPv6 address"), not "string or
        # string"; the formats stay, so generated clients and fuzzers keep
        # sending addresses.
        field["anyOf"] = [
            {"type": "string", "format": f["format"], "title": _TITLES[f["format"]]}
            for f in formats
        ]
        return
    choices = field.get("oneOf")
    if (
        choices
        and len(choices) == 2
        and choices[1] == {"type": "string", "maxLength": 0}
        and choices[0].get("type") == "string"
    ):
        field.pop("oneOf")
        first = dict(choices[0])
        pattern = first.get("pattern")
        if pattern and not pattern.endswith("*$"):  # make it accept ""
            first["pattern"] = f"^(?:{pattern.strip('^$')})?$"
        field.update(first)
