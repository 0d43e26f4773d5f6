"""The DataTransfer registry: schema keys, folder loading, decisions (OCPP 2.0.1 P01/P02)."""

from __future__ import annotations

import json

import pytest

from devicemodel import datatransfer
from devicemodel.datatransfer import DataTransferAnswer, resolve

SCHEMA = {"type": "object", "required": ["kWh"], "properties": {"kWh": {"type": "number"}}}


@pytest.fixture
def registry():
    saved = (
        dict(datatransfer._schemas),
        dict(datatransfer._validators),
        dict(datatransfer._handlers),
    )
    yield
    for store, old in zip(
        (datatransfer._schemas, datatransfer._validators, datatransfer._handlers),
        saved,
        strict=True,
    ):
        store.clear()
        store.update(old)


def test_schema_folder_registers_one_key_per_file(registry, tmp_path):
    (tmp_path / "ocpp2.0.1-org.example-Meter.json").write_text(json.dumps(SCHEMA))
    (tmp_path / "ocpp1.6-org.example.json").write_text(json.dumps({"type": "string"}))
    assert datatransfer.load_schema_dir(tmp_path) == 2

    answer, parsed = resolve(None, "2.0.1", "org.example", "Meter", {"kWh": 3.5})
    assert answer.status == "Accepted"
    assert parsed == {"kWh": 3.5}
    # The vendor-wide 1.6 schema covers any messageId of that vendor.
    assert resolve(None, "1.6", "org.example", "Anything", "free text")[0].status == "Accepted"
    # Keys are per protocol: the 2.0.1 schema does not make the vendor known on 2.1.
    assert resolve(None, "2.1", "org.example", "Meter", {"kWh": 1})[0].status == ("UnknownVendorId")


def test_unknown_message_of_a_known_vendor(registry):
    datatransfer.register_schema("ocpp2.0.1-org.example-Meter", SCHEMA)
    assert resolve(None, "2.0.1", "org.example", "Other", None)[0].status == "UnknownMessageId"
    assert resolve(None, "2.0.1", "org.example", "", None)[0].status == "UnknownMessageId"


def test_invalid_data_is_rejected_with_the_reason(registry):
    datatransfer.register_schema("ocpp1.6-org.example-Meter", SCHEMA)
    answer, _ = resolve(None, "1.6", "org.example", "Meter", json.dumps({"kWh": "lots"}))
    assert answer.status == "Rejected"
    assert answer.info.startswith("kWh:")
    assert resolve(None, "1.6", "org.example", "Meter", "{broken")[0].status == "Rejected"


def test_handler_decides_after_validation(registry):
    datatransfer.register_schema("ocpp2.1-org.example-Meter", SCHEMA)
    seen = []

    @datatransfer.datatransfer_handler("2.1", "org.example", "Meter")
    def meter(ctx, data):
        seen.append(data)
        return DataTransferAnswer("Rejected" if data["kWh"] < 0 else "Accepted", {"ok": 1})

    assert resolve(None, "2.1", "org.example", "Meter", {"kWh": 2})[0] == DataTransferAnswer(
        "Accepted", {"ok": 1}
    )
    assert resolve(None, "2.1", "org.example", "Meter", {"kWh": -1})[0].status == "Rejected"
    assert resolve(None, "2.1", "org.example", "Meter", {"kWh": "x"})[0].status == "Rejected"
    assert seen == [{"kWh": 2}, {"kWh": -1}]


def test_a_broken_schema_is_refused_at_registration(registry):
    with pytest.raises(Exception, match="is not valid"):
        datatransfer.register_schema("ocpp2.0.1-org.example", {"type": 12})


def test_16_answer_data_is_encoded_as_a_string():
    assert datatransfer.encode_for("1.6", {"a": 1}) == '{"a":1}'
    assert datatransfer.encode_for("2.0.1", {"a": 1}) == {"a": 1}
