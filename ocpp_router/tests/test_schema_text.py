"""The official schemas' descriptions read as the specification's sentences: no CIM header,
URN or AsciiDoc markup in what a form or the API docs show."""

from __future__ import annotations

import re

import pytest

from ocpp_router import validation
from ocpp_router.registry import REGISTRIES
from ocpp_router.schema_text import readable

MARKUP = re.compile(r"urn:x-|&lt;|&gt;|<<|>>|image::|\*\(|\b\w+_ \w|\s\+\s|`")


def _description(version: str, action: str, *path: str) -> str:
    node = validation.schema(version, action, "request")
    for part in path:
        node = node[part]
    return node["description"]


def test_201_cim_name_and_urn_are_dropped():
    text = readable(
        _description(
            "2.0.1",
            "SetChargingProfile",
            "definitions",
            "ChargingProfileType",
            "properties",
            "stackLevel",
        )
    )
    assert text == (
        "Value determining level in hierarchy stack of profiles. Higher values have "
        "precedence over lower values. Lowest level is 0."
    )


def test_cross_references_and_escaped_html_read_as_words():
    text = readable(_description("2.0.1", "RequestStartTransaction", "properties", "remoteStartId"))
    assert "might return this in the TransactionEventRequest, letting the server" in text
    evse = readable(_description("2.0.1", "RequestStartTransaction", "properties", "evseId"))
    assert evse == "Number of the EVSE on which to start the transaction. EvseId SHALL be > 0"


def test_21_emphasis_line_breaks_and_images_are_plain_text():
    profile = validation.schema("2.1", "RequestStartTransaction", "request")["definitions"][
        "ChargingProfileType"
    ]
    assert "image::" not in readable(profile["description"])
    text = readable(profile["properties"]["invalidAfterOfflineDuration"]["description"])
    assert text == (
        "(2.1) When set to true this charging profile will not be valid anymore after being "
        "offline for more than maxOfflineDuration. When absent defaults to false."
    )
    assert readable("limit_L2 in _chargingRateUnit_") == "limit_L2 in chargingRateUnit"


def test_long_text_is_cut_at_a_word():
    assert readable("one two three four", limit=10) == "one two…"


def _descriptions(node):
    if isinstance(node, dict):
        if isinstance(node.get("description"), str):
            yield node["description"]
        for value in node.values():
            yield from _descriptions(value)
    elif isinstance(node, list):
        for value in node:
            yield from _descriptions(value)


@pytest.mark.parametrize("version", sorted(REGISTRIES))
def test_no_markup_is_left_in_any_sendable_request_schema(version):
    for action in sorted(REGISTRIES[version].sendable):
        for description in _descriptions(validation.schema(version, action, "request")):
            # The 2.1 schema's own typo (no space before the emphasis) is left as it is.
            text = readable(description).replace("a_salesTariff_ ", "")
            assert not MARKUP.search(text), (action, description, text)
