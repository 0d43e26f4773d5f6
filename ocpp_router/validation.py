"""Schema validation against the official OCPP JSON schemas shipped in the `ocpp` package.

Validators are compiled once and cached by (version, action, direction). 1.6 schemas are
named `X.json` / `XResponse.json` (draft-04); 2.0.1 and 2.1 `XRequest.json` /
`XResponse.json` (draft-06).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any, Literal

import jsonschema
import ocpp
from jsonschema import validators

from ocpp_router import errors
from ocpp_router.rpc import V16, V21, V201

Direction = Literal["request", "response"]

SCHEMA_DIRS = {
    V16: Path(ocpp.__file__).parent / "v16" / "schemas",
    V201: Path(ocpp.__file__).parent / "v201" / "schemas",
    V21: Path(ocpp.__file__).parent / "v21" / "schemas",
}


def _multiple_of(
    validator: Any, multiple: float, instance: Any, schema: dict[str, Any]
) -> Iterator[jsonschema.ValidationError]:
    """`multipleOf` in decimal arithmetic: 0.1 * 3 is a multiple of 0.1 (1.6 charging rates)."""
    if not validator.is_type(instance, "number"):
        return
    try:
        remainder = Decimal(repr(instance)) % Decimal(repr(multiple))
    except InvalidOperation:
        remainder = Decimal(1)
    if remainder != 0:
        yield jsonschema.ValidationError(f"{instance!r} is not a multiple of {multiple}")


def _schema_path(version: str, action: str, direction: Direction) -> Path:
    if version == V16:
        name = f"{action}Response.json" if direction == "response" else f"{action}.json"
    else:
        name = f"{action}Response.json" if direction == "response" else f"{action}Request.json"
    path = SCHEMA_DIRS[version] / name
    if direction == "request" and not path.exists():
        # OCPP 2.1 SEND messages (NotifyPeriodicEventStream) have one schema, no suffix.
        path = SCHEMA_DIRS[version] / f"{action}.json"
    return path


@cache
def actions(version: str) -> frozenset[str]:
    """Every action the official schemas of `version` define."""
    names = set()
    for path in SCHEMA_DIRS[version].glob("*.json"):
        stem = path.stem
        if version == V16:
            if not stem.endswith("Response"):
                names.add(stem)
        elif stem.endswith("Request"):
            names.add(stem.removesuffix("Request"))
        elif not stem.endswith("Response"):
            names.add(stem)  # a 2.1 SEND message
    return frozenset(names)


@cache
def schema(version: str, action: str, direction: Direction) -> dict[str, Any]:
    with _schema_path(version, action, direction).open(encoding="utf-8-sig") as fh:
        document: dict[str, Any] = json.load(fh)
    return document


@cache
def validator(version: str, action: str, direction: Direction) -> jsonschema.protocols.Validator:
    document = schema(version, action, direction)
    base = validators.validator_for(document)
    cls = validators.extend(base, {"multipleOf": _multiple_of})
    return cls(document)


# jsonschema keyword -> OCPP-J error class.
_KEYWORD_ERRORS: dict[str, type[errors.OcppError]] = {
    "type": errors.TypeConstraintViolation,
    "required": errors.OccurrenceConstraintViolation,
    "minItems": errors.OccurrenceConstraintViolation,
    "maxItems": errors.OccurrenceConstraintViolation,
    "additionalProperties": errors.FormatViolation,
}


def check(version: str, action: str, direction: Direction, payload: dict[str, Any]) -> None:
    """Raise the OCPP error for the first schema violation of `payload`, naming its JSON path."""
    error = jsonschema.exceptions.best_match(
        validator(version, action, direction).iter_errors(payload)
    )
    if error is None:
        return
    raise to_ocpp_error(error)


def to_ocpp_error(error: jsonschema.ValidationError) -> errors.OcppError:
    path = error.json_path
    if error.validator == "type" and not error.absolute_path:
        return errors.FormatViolation("Payload must be a JSON object", {"path": path})
    cls = _KEYWORD_ERRORS.get(str(error.validator), errors.PropertyConstraintViolation)
    return cls(f"{path}: {_describe(error)}", {"path": path, "keyword": str(error.validator)})


def _describe(error: jsonschema.ValidationError) -> str:
    """A description that never echoes long raw input back (descriptions are capped at 255)."""
    if error.validator == "required":
        return str(error.message)
    if error.validator == "additionalProperties":
        return "unexpected property " + str(error.message).split("(")[-1].rstrip(")")[:100]
    if error.validator == "enum":
        return f"value is not one of {error.validator_value}"
    if error.validator in ("maxLength", "minLength"):
        return f"length must be within the {error.validator} of {error.validator_value}"
    if error.validator == "type":
        return f"must be of type {error.validator_value}"
    return f"violates {error.validator} {error.validator_value}"
