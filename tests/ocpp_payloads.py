"""Smallest valid payloads generated from the official OCPP JSON schemas (for tests)."""

from __future__ import annotations

from typing import Any

from ocpp_router import validation

NOW = "2026-11-25T10:00:00Z"


def minimal_payload(version: str, action: str, direction: str) -> dict[str, Any]:
    document = validation.schema(version, action, direction)
    payload = _minimal(document, document)
    validation.check(version, action, direction, payload)
    return payload


def _minimal(node: dict[str, Any], root: dict[str, Any]) -> Any:
    if "$ref" in node:
        return _minimal(root["definitions"][node["$ref"].rsplit("/", 1)[-1]], root)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in node:
            return _minimal(node[key][0], root)
    if "enum" in node:
        return node["enum"][0]
    kind = node.get("type", "object")
    if kind == "object":
        properties = node.get("properties", {})
        return {name: _minimal(properties[name], root) for name in node.get("required", [])}
    if kind == "array":
        return [_minimal(node.get("items", {}), root) for _ in range(node.get("minItems", 0))]
    if kind == "string":
        if node.get("format") == "date-time":
            return NOW
        if node.get("format") in ("uri", "url"):
            return "http://example.com/x"
        return "x" * max(node.get("minLength", 1), 1)
    if kind in ("integer", "number"):
        low = node.get("minimum", 1)
        if "exclusiveMinimum" in node and not isinstance(node["exclusiveMinimum"], bool):
            low = node["exclusiveMinimum"] + 1
        return max(low, 0) if kind == "integer" else float(max(low, 0))
    if kind == "boolean":
        return False
    return None
