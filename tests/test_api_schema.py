"""OpenAPI: the schema validates as OpenAPI 3, and every sendable action has a typed path."""

from __future__ import annotations

import pytest
import yaml
from django.core.management import call_command
from openapi_spec_validator import validate
from rest_framework.test import APIClient

from ocpp_router.registry import REGISTRIES
from tests.api_helpers import declare_sendable

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema(tmp_path_factory):
    path = tmp_path_factory.mktemp("schema") / "openapi.yaml"
    # drf-spectacular's own validation, failing on any warning.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return yaml.safe_load(path.read_text())


def test_schema_is_valid_openapi_3(schema):
    assert schema["openapi"].startswith("3.")
    validate(schema)


def test_every_sendable_action_has_one_path_typed_per_version(schema):
    for version, registry in REGISTRIES.items():
        for action in registry.sendable:
            operation = schema["paths"][f"/api/stations/{{station_id}}/commands/{action}"]["post"]
            body = operation["requestBody"]["content"]["application/json"]["schema"]
            variants = [s["$ref"] for s in body.get("anyOf", [body])]
            tag = "OCPP" + version.replace(".", "")
            assert f"#/components/schemas/{tag}_{action}Request" in variants
            record = operation["responses"]["200"]["content"]["application/json"]["schema"]
            response = record["allOf"][1]["properties"]["response"]
            assert {"$ref": f"#/components/schemas/{tag}_{action}Response"} in response.get(
                "anyOf", [{"$ref": response.get("$ref")}]
            )


def test_request_schema_comes_from_the_official_schema(schema):
    components = schema["components"]["schemas"]
    reset = components["OCPP201_ResetRequest"]
    assert reset["required"] == ["type"]
    enum_ref = reset["properties"]["type"]["$ref"]
    assert components[enum_ref.rsplit("/", 1)[-1]]["enum"] == ["Immediate", "OnIdle"]
    assert components["OCPP16_ResetRequest"]["properties"]["type"]["enum"] == ["Hard", "Soft"]


def test_actions_declared_later_are_documented_when_the_schema_is_built():
    with declare_sendable("2.0.1", "ClearCache"):
        client = APIClient()
        response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    paths = response.json()["paths"]
    assert "/api/stations/{station_id}/commands/ClearCache" in paths


def test_swagger_ui_is_served_at_docs():
    response = APIClient().get("/docs")
    assert response.status_code == 200
    assert b"swagger" in response.content.lower()


def test_swagger_ui_is_served_without_internet():
    content = APIClient().get("/docs").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in content
    assert "cdn." not in content and "jsdelivr" not in content


def test_docs_with_a_slash_redirects_to_docs():
    response = APIClient().get("/docs/")
    assert response.status_code == 301 and response["Location"] == "/docs"
