"""Schema validation: the compiled fast path never changes a verdict or an error.

`validation.check()` runs the schema compiled by fastjsonschema first and asks jsonschema
(`check_with_jsonschema`) only when it rejects. These tests hold the two to the same
answers on valid payloads built from the schemas and on mutations of them.
"""

from __future__ import annotations

import copy
import json
import random
import socket
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from ocpp_router import errors, validation
from ocpp_router.rpc import V16, V21, V201
from tests.ocpp_payloads import NOW, minimal_payload

VERSIONS = (V16, V201, V21)

# Schemas fastjsonschema cannot compile, validated by jsonschema alone: (version, file name).
JSONSCHEMA_ONLY: set[tuple[str, str]] = set()


def schemas(version: str) -> Iterator[tuple[str, validation.Direction]]:
    """Every (action, direction) of `version` that has a schema."""
    for action in sorted(validation.actions(version)):
        yield action, "request"
        if validation._schema_path(version, action, "response").exists():
            yield action, "response"


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("schema compilation tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)


@pytest.mark.parametrize("version", VERSIONS)
def test_every_shipped_schema_compiles_to_a_fast_validator(no_network, version):
    validation.fast_validator.cache_clear()  # compile here, with the network refused
    files = {path.name for path in validation.SCHEMA_DIRS[version].glob("*.json")}
    covered, jsonschema_only = set(), set()
    for action, direction in schemas(version):
        name = validation._schema_path(version, action, direction).name
        covered.add(name)
        if validation.fast_validator(version, action, direction) is None:
            jsonschema_only.add((version, name))
    assert covered == files
    assert jsonschema_only == {entry for entry in JSONSCHEMA_ONLY if entry[0] == version}


@pytest.mark.parametrize(
    "ref",
    ["http://example.com/schema.json#", "https://example.com/x#/a", "other.json#", "file:///etc/x"],
)
def test_a_remote_ref_is_refused_not_fetched(no_network, ref):
    for dialect in (
        "http://json-schema.org/draft-04/schema#",
        "http://json-schema.org/draft-06/schema#",
    ):
        document = {
            "$schema": dialect,
            "id": "urn:OCPP:test",
            "type": "object",
            "properties": {"a": {"$ref": ref}},
        }
        with pytest.raises(validation.JsonSchemaDefinitionException):
            validation.compile_fast(document)


def test_compiling_leaves_the_cached_schema_untouched():
    document = validation.schema(V21, "BootNotification", "request")
    before = copy.deepcopy(document)
    validation.compile_fast(document)
    assert document == before


# Payloads: the smallest valid one, a full one (every optional property), and mutations.


def resolve(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = root["definitions"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def full(node: dict[str, Any], root: dict[str, Any], depth: int = 0) -> Any:
    """A valid value with every optional property present (down to a depth)."""
    node = resolve(node, root)
    if "enum" in node:
        return node["enum"][-1]
    kind = node.get("type", "object")
    if kind == "object":
        properties = node.get("properties", {})
        names = list(properties) if depth < 6 else node.get("required", [])
        value = {name: full(properties[name], root, depth + 1) for name in names}
        if not properties and node.get("additionalProperties", True) is not False:
            value = {}
        return value
    if kind == "array":
        count = min(max(node.get("minItems", 1), 1), node.get("maxItems", 2))
        return [full(node.get("items", {}), root, depth + 1) for _ in range(count)]
    if kind == "string":
        if node.get("format") == "date-time":
            return NOW
        return "y" * min(node.get("maxLength", 5), 5)
    if kind in ("integer", "number"):
        if "multipleOf" in node:
            return 0.3  # a multiple of 0.1 in decimal, not in float division
        value = node.get("minimum", 1 if kind == "integer" else 1.5)
        return min(value, node.get("maximum", value))
    if kind == "boolean":
        return True
    return None


WRONG_TYPE = {
    "string": [7, None],
    "integer": ["7", 1.5, True],
    "number": ["7.5", True],
    "boolean": ["true", 0],
    "object": [["x"], "x"],
    "array": [{"x": 1}, "x"],
}


def variants(value: Any, node: dict[str, Any], root: dict[str, Any]) -> Iterator[Any]:
    """Values to put where `value` (valid for `node`) stands: most invalid, some valid."""
    node = resolve(node, root)
    kind = node.get("type")
    yield from WRONG_TYPE.get(kind, [])
    if "enum" in node:
        yield "NotOneOfThem"
        yield node["enum"][0]
    if "maxLength" in node:
        yield "z" * (node["maxLength"] + 1)
        yield "é" * node["maxLength"]  # characters, not bytes
    if node.get("format") == "date-time":
        yield "yesterday"  # formats are not checked: valid
        yield "2026-11-25T10:00:00"
    if kind == "integer":
        yield 1.0  # an integer in draft-06, not in draft-04
        yield 10**30
    if kind == "number":
        yield float("nan")
        yield float("inf")
        yield 7  # an int is a number
    if "minimum" in node:
        yield node["minimum"] - 1
    if "maximum" in node:
        yield node["maximum"] + 1
    if "multipleOf" in node:
        yield from (0.35, 0.30000000000000004, 1e30, 10**30, 12, -0.7, 2.2)
    if kind == "array" and isinstance(value, list):
        yield tuple(value)  # an answer built in Python: jsonschema wants a list
        if node.get("minItems"):
            yield []
        if "maxItems" in node and value:
            yield value * (node["maxItems"] + 1)
    if kind == "object" and isinstance(value, dict):
        for name in node.get("required", []):
            yield {key: item for key, item in value.items() if key != name}
        yield {**value, "unexpectedProperty": 1}
        yield {**value, "customData": {"vendorId": "com.acme", "extra": [1]}}


def mutations(payload: Any, node: dict[str, Any], root: dict[str, Any]) -> Iterator[Any]:
    """`payload` with one value replaced by each of its variants, at every depth."""
    for variant in variants(payload, node, root):
        yield variant
    node = resolve(node, root)
    if isinstance(payload, dict):
        properties = node.get("properties", {})
        for key, value in payload.items():
            if key in properties:
                for variant in mutations(value, properties[key], root):
                    yield {**payload, key: variant}
    elif isinstance(payload, list) and payload:
        for variant in mutations(payload[0], node.get("items", {}), root):
            yield [variant, *payload[1:]]


def outcome(function, version, action, direction, payload) -> Any:
    try:
        function(version, action, direction, payload)
    except errors.OcppError as error:
        return type(error), error.description, error.details
    return None


# The actions stations send most, the charging-rate ones (multipleOf in 1.6), and a sample.
CHOSEN = {
    V16: ["BootNotification", "Heartbeat", "StatusNotification", "MeterValues",
          "StartTransaction", "StopTransaction", "SetChargingProfile", "GetCompositeSchedule",
          "RemoteStartTransaction", "SignCertificate"],
    V201: ["BootNotification", "Heartbeat", "StatusNotification", "MeterValues",
           "TransactionEvent", "Authorize", "SetChargingProfile", "NotifyReport"],
    V21: ["BootNotification", "Heartbeat", "StatusNotification", "TransactionEvent",
          "NotifyPeriodicEventStream", "SetChargingProfile"],
}  # fmt: skip


def sample(version: str) -> list[str]:
    rest = sorted(validation.actions(version) - set(CHOSEN[version]))
    return CHOSEN[version] + random.Random(f"validation-{version}").sample(rest, 6)


MAX_MUTANTS = 150

AGREEMENT_CASES = [
    (version, action, direction)
    for version in VERSIONS
    for action in sample(version)
    for direction in ("request", "response")
    if validation._schema_path(version, action, direction).exists()
]


@pytest.mark.parametrize(("version", "action", "direction"), AGREEMENT_CASES)
def test_fast_path_agrees_with_jsonschema(version, action, direction):
    root = validation.schema(version, action, direction)
    fast = validation.fast_validator(version, action, direction)
    assert fast is not None
    valid = [minimal_payload(version, action, direction), full(root, root)]
    for payload in valid:
        validation.check_with_jsonschema(version, action, direction, payload)
        before = copy.deepcopy(payload)
        fast(payload)  # valid payloads take the fast path
        assert payload == before  # and leave it as they came (no defaults filled in)

    mutants = [mutant for payload in valid for mutant in mutations(payload, root, root)]
    if len(mutants) > MAX_MUTANTS:  # the largest 2.1 schemas give about 900
        mutants = random.Random(f"{version}-{action}").sample(mutants, MAX_MUTANTS)
    rejected = 0
    for payload in [*valid, [], None, "x", *mutants]:
        expected = outcome(validation.check_with_jsonschema, version, action, direction, payload)
        got = outcome(validation.check, version, action, direction, payload)
        assert got == expected, json.dumps(payload, default=repr)[:300]
        rejected += expected is not None
    assert rejected > 0


def charging_rate_payload(limit: Any) -> dict[str, Any]:
    return {
        "connectorId": 1,
        "csChargingProfiles": {
            "chargingProfileId": 1,
            "stackLevel": 0,
            "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": {
                "chargingRateUnit": "A",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}],
            },
        },
    }


@pytest.mark.parametrize("limit", [0.3, 16, 6.1, 0.0, 100000.5])
def test_1_6_charging_rate_in_tenths_is_accepted_on_the_fast_path(limit):
    payload = charging_rate_payload(limit)
    validation.fast_validator(V16, "SetChargingProfile", "request")(payload)
    validation.check(V16, "SetChargingProfile", "request", payload)


@pytest.mark.parametrize("limit", [0.35, 0.30000000000000004, 1e30, 10**30, float("nan")])
def test_1_6_charging_rate_not_in_tenths_gets_the_same_error(limit):
    payload = charging_rate_payload(limit)
    with pytest.raises(errors.PropertyConstraintViolation) as raised:
        validation.check(V16, "SetChargingProfile", "request", payload)
    assert raised.value.details == {
        "path": "$.csChargingProfiles.chargingSchedule.chargingSchedulePeriod[0].limit",
        "keyword": "multipleOf",
    }
    assert outcome(validation.check, V16, "SetChargingProfile", "request", payload) == outcome(
        validation.check_with_jsonschema, V16, "SetChargingProfile", "request", payload
    )


@pytest.mark.parametrize("fast", [None, "raises"])
def test_without_a_working_fast_validator_jsonschema_decides(monkeypatch, fast):
    def broken(payload):
        raise RuntimeError("fast path failed")

    monkeypatch.setattr(
        validation, "fast_validator", lambda *args: broken if fast == "raises" else None
    )
    validation.check(V201, "Heartbeat", "request", {})
    with pytest.raises(errors.FormatViolation) as raised:
        validation.check(V201, "Heartbeat", "request", {"unexpected": 1})
    assert raised.value.details["path"] == "$"
