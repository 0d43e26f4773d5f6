"""Schema validation against the official OCPP JSON schemas shipped in the `ocpp` package.

Validators are compiled once and cached by (version, action, direction). 1.6 schemas are
named `X.json` / `XResponse.json` (draft-04, the security whitepaper's ones draft-06);
2.0.1 and 2.1 `XRequest.json` / `XResponse.json` (draft-06).

Every frame in and out is checked, so `check()` first runs the schema compiled to Python
code by fastjsonschema, several times faster than jsonschema on a valid payload. Only
jsonschema decides: when the fast validator rejects a payload (or fails in any way),
jsonschema validates it again and gives the verdict and the OCPP error. The fast path is
held to accept nothing jsonschema rejects (see `_FastDraft04`), so all it changes is time.
"""

from __future__ import annotations

import copy
import json
import logging
import numbers
from collections.abc import Callable, Iterator
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any, Literal

import jsonschema
import ocpp
from fastjsonschema import JsonSchemaDefinitionException
from fastjsonschema.draft04 import CodeGeneratorDraft04
from fastjsonschema.draft06 import CodeGeneratorDraft06
from fastjsonschema.generator import enforce_list
from fastjsonschema.ref_resolver import RefResolver
from jsonschema import validators

from ocpp_router import errors
from ocpp_router.rpc import V16, V21, V201

logger = logging.getLogger(__name__)

Direction = Literal["request", "response"]

SCHEMA_DIRS = {
    V16: Path(ocpp.__file__).parent / "v16" / "schemas",
    V201: Path(ocpp.__file__).parent / "v201" / "schemas",
    V21: Path(ocpp.__file__).parent / "v21" / "schemas",
}


def _is_multiple(instance: Any, multiple: float) -> bool:
    """`multipleOf` in decimal arithmetic: 0.1 * 3 is a multiple of 0.1 (1.6 charging rates).
    A quotient too large for the decimal context (1e30 / 0.1) is not."""
    try:
        return bool(Decimal(repr(instance)) % Decimal(repr(multiple)) == 0)
    except InvalidOperation:
        return False


def _multiple_of(
    validator: Any, multiple: float, instance: Any, schema: dict[str, Any]
) -> Iterator[jsonschema.ValidationError]:
    if validator.is_type(instance, "number") and not _is_multiple(instance, multiple):
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


class _FastDraft04(CodeGeneratorDraft04):
    """fastjsonschema's draft-04 code generator, held to what our jsonschema validator accepts.

    On the keywords the OCPP schemas use (type, enum, required, properties,
    additionalProperties, items, minItems/maxItems, maxLength, minimum/maximum, multipleOf),
    fastjsonschema is as strict as jsonschema or stricter (its numbers leave out `Fraction`)
    except in two places, both overridden here: a tuple passes its "array" type (jsonschema's
    arrays are lists, and an answer built in Python may hold a tuple), and its `multipleOf`
    divides where ours takes a decimal remainder (its quotient is rounded to the decimal
    context, so it calls 1e30 a multiple of 0.1). Here it runs `_multiple_of`'s arithmetic.
    """

    @property
    def global_state(self) -> dict[str, Any]:
        """The globals of the generated code."""
        return {**super().global_state, "number_is_multiple": _number_is_multiple}

    def generate_type(self) -> None:
        if self._definition is not None and "array" in enforce_list(self._definition["type"]):
            with self.l("if isinstance({variable}, tuple):"):
                self.exc("{name} must be a list", rule="type")
        super().generate_type()

    def generate_multiple_of(self) -> None:
        with self.l("if not number_is_multiple({variable}, {multipleOf!r}):"):
            self.exc("{name} must be a multiple of {multipleOf}", rule="multipleOf")


class _FastDraft06(_FastDraft04, CodeGeneratorDraft06):
    """The same for draft-06 (whose integers include 1.0, as jsonschema's draft-06 ones do)."""


def _number_is_multiple(instance: Any, multiple: float) -> bool:
    """`_multiple_of`'s verdict: a value that is not a number passes (its type is checked)."""
    if isinstance(instance, bool) or not isinstance(instance, numbers.Number):
        return True
    return _is_multiple(instance, multiple)


class _NoRemoteRefs(dict[str, Callable[[str], Any]]):
    """fastjsonschema fetches a `$ref` it cannot resolve in the document with urllib, unless a
    handler takes the URI's scheme: this takes every scheme and refuses it, so compiling never
    touches the network or the disk. The OCPP schemas only refer to `#/definitions/...`."""

    def __contains__(self, scheme: object) -> bool:
        return True

    def __missing__(self, scheme: str) -> Callable[[str], Any]:
        return _refuse_remote


def _refuse_remote(uri: str) -> Any:
    raise JsonSchemaDefinitionException(f"remote reference {uri} not followed")


def compile_fast(document: dict[str, Any]) -> Callable[[Any], Any]:
    """Compile `document` to a function that returns a valid payload and raises otherwise."""
    # The resolver rewrites `$ref`s in place: compile a copy, not the cached schema.
    document = copy.deepcopy(document)
    dialect = str(document.get("$schema", ""))
    if "draft-04" in dialect:
        generator_class: type[_FastDraft04] = _FastDraft04
    elif "draft-06" in dialect:
        generator_class = _FastDraft06
    else:
        raise JsonSchemaDefinitionException(f"no fast validator for {dialect!r}")
    resolver = RefResolver.from_schema(document, handlers=_NoRemoteRefs(), store={})
    generator = generator_class(
        document,
        resolver=resolver,
        # Our jsonschema validators check no format (they have no FormatChecker): formats only
        # annotate. Checking them here could never accept too much, but every timestamp its
        # date-time pattern refuses and jsonschema takes (stations send "2026-11-25T10:00:00",
        # without an offset) would pay for both validators. Same semantics, no formats.
        use_formats=False,
        # Never fill in defaults: the payload must reach the handler as the station sent it.
        use_default=False,
        # The verdict is all we take from it; the error comes from jsonschema.
        detailed_exceptions=False,
    )
    namespace = generator.global_state
    exec(generator.func_code, namespace)  # what fastjsonschema.compile() does
    function: Callable[[Any], Any] = namespace[resolver.get_scope_name()]
    return function


@cache
def fast_validator(version: str, action: str, direction: Direction) -> Callable[[Any], Any] | None:
    """The compiled fast validator, or None where the schema does not compile (jsonschema only)."""
    document = schema(version, action, direction)
    try:
        return compile_fast(document)
    except Exception:
        logger.debug("No fast validator for %s %s %s", version, action, direction, exc_info=True)
        return None


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
    fast = fast_validator(version, action, direction)
    if fast is not None:
        try:
            fast(payload)
        except Exception:
            pass  # a rejection, or a failure of the fast path: jsonschema decides
        else:
            return
    check_with_jsonschema(version, action, direction, payload)


def check_with_jsonschema(
    version: str, action: str, direction: Direction, payload: dict[str, Any]
) -> None:
    """`check()` without the fast path: the verdict and the error of record."""
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
