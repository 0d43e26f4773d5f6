"""OpenAPI of the message API: one path per sendable action, typed by the official schemas.

`add_message_api_actions` is a drf-spectacular postprocessing hook. For every action some
OCPP version lists as sendable (read from the registry when the schema is built), it adds
`POST /api/stations/{station_id}/commands/{Action}` whose request body is `anyOf` the
official request schemas of the versions that send it, and whose command record carries
`anyOf` their response schemas. The JSON schemas (draft-04/06) are converted to OpenAPI
3.0 schema objects: definitions become components, unknown keywords are dropped.
"""

from __future__ import annotations

from typing import Any

from ocpp_router import validation
from ocpp_router.registry import REGISTRIES
from ocpp_router.schema_text import readable

# Keywords of the OpenAPI 3.0 Schema Object (JSON Schema's other keywords are dropped).
_KEYWORDS = {
    "title",
    "multipleOf",
    "maximum",
    "minimum",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "maxProperties",
    "minProperties",
    "required",
    "enum",
    "type",
    "not",
    "allOf",
    "oneOf",
    "anyOf",
    "items",
    "properties",
    "additionalProperties",
    "description",
    "format",
    "default",
}


def _tag(version: str) -> str:
    return "OCPP" + version.replace(".", "")


def _document_name(version: str, action: str, direction: str) -> str:
    return f"{_tag(version)}_{action}{'Response' if direction == 'response' else 'Request'}"


def _convert(node: Any, refs: dict[str, str]) -> Any:
    """One JSON Schema node as an OpenAPI 3.0 schema object."""
    if isinstance(node, list):
        return [_convert(item, refs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = {"$ref": refs[node["$ref"].rsplit("/", 1)[-1]]}
        siblings = {
            k: readable(v) if k == "description" else v
            for k, v in node.items()
            if k in ("description", "title")
        }
        return {"allOf": [target], **siblings} if siblings else target
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "properties":
            out[key] = {name: _convert(sub, refs) for name, sub in value.items()}
        elif key in ("items", "not", "additionalProperties") and isinstance(value, dict):
            out[key] = _convert(value, refs)
        elif key in ("allOf", "oneOf", "anyOf"):
            out[key] = _convert(value, refs)
        elif key == "const":
            out["enum"] = [value]
        elif key in ("exclusiveMinimum", "exclusiveMaximum") and not isinstance(value, bool):
            # draft-06 numbers -> OpenAPI 3.0 bound plus boolean flag.
            out["minimum" if key == "exclusiveMinimum" else "maximum"] = value
            out[key] = True
        elif key == "required" and not value:
            continue
        elif key == "description":
            out[key] = readable(value)
        elif key in _KEYWORDS or key in ("exclusiveMinimum", "exclusiveMaximum"):
            out[key] = value
    return out


def ocpp_components(version: str, action: str, direction: str, components: dict) -> dict:
    """Add the official schema of (version, action, direction) to `components`; return a $ref."""
    name = _document_name(version, action, direction)
    if name not in components:
        document = validation.schema(version, action, direction)
        definitions = document.get("definitions", {})
        refs = {key: f"#/components/schemas/{name}_{key}" for key in definitions}
        for key, definition in definitions.items():
            components[f"{name}_{key}"] = _convert(definition, refs)
        root = _convert({k: v for k, v in document.items() if k != "definitions"}, refs)
        root["description"] = f"OCPP {version} {name.split('_', 1)[1]} (official JSON schema)."
        components[name] = root
    return {"$ref": f"#/components/schemas/{name}"}


def _any_of(schemas: list[dict]) -> dict:
    return schemas[0] if len(schemas) == 1 else {"anyOf": schemas}


def _security(result: dict) -> list | None:
    for methods in result.get("paths", {}).values():
        for operation in methods.values():
            if isinstance(operation, dict) and "security" in operation:
                return operation["security"]
    return None


def add_message_api_actions(result: dict, generator, request, public) -> dict:
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault(
        "CommandRefusal",
        {
            "type": "object",
            "properties": {
                "detail": {"type": "string"},
                "path": {"type": "string", "description": "JSON path of the invalid value."},
                "version": {"type": "string", "description": "OCPP version checked against."},
            },
            "required": ["detail"],
        },
    )
    refusal = {"application/json": {"schema": {"$ref": "#/components/schemas/CommandRefusal"}}}
    security = _security(result)
    actions: dict[str, list[str]] = {}
    for version, registry in REGISTRIES.items():
        for action in registry.sendable:
            if action in validation.actions(version):
                actions.setdefault(action, []).append(version)
    for action in sorted(actions):
        versions = actions[action]
        requests = [ocpp_components(v, action, "request", components) for v in versions]
        responses = [ocpp_components(v, action, "response", components) for v in versions]
        record = {
            "allOf": [
                {"$ref": "#/components/schemas/Command"},
                {
                    "type": "object",
                    "properties": {
                        "request": _any_of(requests),
                        "response": {**_any_of(responses), "nullable": True},
                    },
                },
            ]
        }
        body = {"application/json": {"schema": record}}
        operation = {
            "operationId": f"station_command_{action}",
            "summary": f"Send {action} ({', '.join('OCPP ' + v for v in versions)})",
            "description": (
                f"Sends the OCPP {action} request in the body to the station, checked against "
                f"the official schema of the version it is connected with "
                f"({' or '.join(versions)}). Waits for the answer (200) unless wait=false or "
                "a callback_url is given (202)."
            ),
            "tags": ["message API"],
            "parameters": [
                {
                    "name": "station_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string"},
                    "description": "The station's identity.",
                },
                {"name": "wait", "in": "query", "schema": {"type": "boolean", "default": True}},
                {"name": "callback_url", "in": "query", "schema": {"type": "string"}},
                {"name": "timeout", "in": "query", "schema": {"type": "number"}},
            ],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _any_of(requests)}},
            },
            "responses": {
                "200": {
                    "description": "The station answered, or the call timed out.",
                    "content": body,
                },
                "202": {"description": "Accepted: poll GET /api/commands/{id}.", "content": body},
                "400": {"description": "The payload does not fit the schema.", "content": refusal},
                "401": {"description": "Not authenticated."},
                "403": {"description": "Missing permission commands.send_command."},
                "404": {"description": "Unknown station."},
                "409": {
                    "description": "The station is offline or its version lacks the action.",
                    "content": refusal,
                },
                "503": {
                    "description": "ChannelLayerUnavailable: Redis is down, no call reaches "
                    "a station until it is back.",
                    "content": body,
                },
            },
        }
        if security is not None:
            operation["security"] = security
        result.setdefault("paths", {})[f"/api/stations/{{station_id}}/commands/{action}"] = {
            "post": operation
        }
    return result
