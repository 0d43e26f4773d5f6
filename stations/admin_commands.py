"""Commands sent from the admin: forms built from the official OCPP request schemas.

Every action the registry lists as sendable for a station's protocol
(`ocpp_router.registry.REGISTRIES[version].sendable`) gets a form: one field per property
of the request schema (enums as choices, one level of nested objects flattened, lists and
deeper objects as JSON), or the whole payload as JSON. The payload is checked against the
schema before it is sent. Apps that add sendable actions can give them sensible defaults:

    from stations.admin_commands import command_defaults

    @command_defaults("RemoteStartTransaction")
    def remote_start_defaults(version: str, station) -> dict:
        return {"idTag": "OPERATOR", "connectorId": 1}
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from asgiref.sync import async_to_sync
from django import forms
from django.conf import settings
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from commands import conveniences
from commands.services import StationNotConnected, command_send_async
from ocpp_router import errors, validation
from ocpp_router.outbound import Outcome
from ocpp_router.registry import REGISTRIES
from ocpp_router.rpc import V16
from ocpp_router.schema_text import readable
from stations.models import ChargingStation
from stations.redaction import redact

Defaults = Callable[[str, ChargingStation | None], dict[str, Any]]
_defaults: dict[str, Defaults] = {}
FieldHook = Callable[[forms.Field], forms.Field]
_field_hooks: dict[tuple[str, str], FieldHook] = {}
Followup = Callable[[ChargingStation, "CommandResult"], str]
_followups: dict[str, Followup] = {}

# Shown as buttons on the station page, in this order, where the protocol can send them.
QUICK_ACTIONS = [
    "Reset",
    "ChangeAvailability",
    "UnlockConnector",
    "TriggerMessage",
    "GetBaseReport",
    "GetConfiguration",
    "ClearCache",
]

# Nested objects deeper than this become one JSON field.
MAX_FLATTEN_DEPTH = 2


def command_defaults(action: str) -> Callable[[Defaults], Defaults]:
    """Register the payload a command form for `action` starts from."""

    def register(func: Defaults) -> Defaults:
        _defaults[action] = func
        return func

    return register


def register_quick_action(action: str) -> str:
    """Show `action` as a button on the station page (where the protocol sends it)."""
    if action not in QUICK_ACTIONS:
        QUICK_ACTIONS.append(action)
    return action


def request_id() -> int:
    """A fresh requestId for report/log requests (the station echoes it in its notifications)."""
    return secrets.randbelow(2**31 - 1) + 1


# Reset and ChangeAvailability in each version's words: commands.conveniences, once.
@command_defaults("Reset")
def _reset(version: str, station: ChargingStation | None) -> dict[str, Any]:
    return conveniences.reset(version, {"type": "soft"})[1]


@command_defaults("ChangeAvailability")
def _change_availability(version: str, station: ChargingStation | None) -> dict[str, Any]:
    return conveniences.change_availability(version, {"operative": True})[1]


@command_defaults("UnlockConnector")
def _unlock(version: str, station: ChargingStation | None) -> dict[str, Any]:
    return {"connectorId": 1} if version == V16 else {"evseId": 1, "connectorId": 1}


@command_defaults("TriggerMessage")
def _trigger(version: str, station: ChargingStation | None) -> dict[str, Any]:
    return {"requestedMessage": "StatusNotification"}


@command_defaults("GetBaseReport")
def _base_report(version: str, station: ChargingStation | None) -> dict[str, Any]:
    return {"requestId": request_id(), "reportBase": "FullInventory"}


@command_defaults("GetReport")
def _report(version: str, station: ChargingStation | None) -> dict[str, Any]:
    return {"requestId": request_id()}


@command_defaults("GetVariables")
def _get_variables(version: str, station: ChargingStation | None) -> dict[str, Any]:
    return {
        "getVariableData": [
            {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
        ]
    }


@command_defaults("SetVariables")
def _set_variables(version: str, station: ChargingStation | None) -> dict[str, Any]:
    return {
        "setVariableData": [
            {
                "component": {"name": "OCPPCommCtrlr"},
                "variable": {"name": "HeartbeatInterval"},
                "attributeValue": str(settings.CSMS_HEARTBEAT_INTERVAL),
            }
        ]
    }


@command_defaults("ChangeConfiguration")
def _change_configuration(version: str, station: ChargingStation | None) -> dict[str, Any]:
    return {"key": "HeartbeatInterval", "value": str(settings.CSMS_HEARTBEAT_INTERVAL)}


def command_field(action: str, label: str) -> Callable[[FieldHook], FieldHook]:
    """Register a change to the form field `label` (e.g. "idToken.idToken") of `action`'s
    form: an app gives a field its own widget and validation (the id token of a remote start
    picked among the tokens the CSMS knows)."""

    def register(func: FieldHook) -> FieldHook:
        _field_hooks[(action, label)] = func
        return func

    return register


def command_followup(action: str) -> Callable[[Followup], Followup]:
    """Register what the result page of `action` shows after the station's answer:
    `render(station, result) -> SafeString`, e.g. what the CSMS then decided about the
    transaction a remote start led to."""

    def register(func: Followup) -> Followup:
        _followups[action] = func
        return func

    return register


def followup(station: ChargingStation, result: CommandResult, *, nonce: str = "") -> str:
    """The registered followup of `result`; an inline `<script>` in it runs by the page's
    Content-Security-Policy nonce (the page allows no other inline script)."""
    render = _followups.get(result.action)
    if render is None:
        return ""
    html = render(station, result)
    if nonce and "<script>" in html:
        html = mark_safe(html.replace("<script>", format_html('<script nonce="{}">', nonce)))
    return html


def default_payload(version: str, action: str, station: ChargingStation | None = None) -> dict:
    """The payload a command form starts from: registered defaults, else the schema's
    required enums at their first value and a fresh requestId."""
    if action in _defaults:
        return _defaults[action](version, station)
    document = validation.schema(version, action, "request")
    payload: dict[str, Any] = {}
    for name in document.get("required", []):
        node = _resolve(document, document.get("properties", {}).get(name, {}))
        if name == "requestId":
            payload[name] = request_id()
        elif "enum" in node:
            payload[name] = node["enum"][0]
    return payload


def actions_with_defaults() -> list[str]:
    return sorted(_defaults)


def sendable_actions(version: str) -> list[str]:
    if version not in REGISTRIES:
        return []
    return sorted(REGISTRIES[version].sendable)


def is_sendable(version: str, action: str) -> bool:
    return version in REGISTRIES and action in REGISTRIES[version].sendable


# --- schema -> form ---------------------------------------------------------------------


def _resolve(root: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow local `$ref`s (2.x schemas keep their types under #/definitions)."""
    seen = 0
    while "$ref" in node and seen < 10:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            break
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part]
        node = target
        seen += 1
    return node


@dataclass(frozen=True)
class FieldSpec:
    path: tuple[str, ...]
    node: dict[str, Any]
    required: bool
    as_json: bool

    @property
    def name(self) -> str:
        return "f__" + "__".join(self.path)

    @property
    def label(self) -> str:
        return ".".join(self.path)


def schema_fields(version: str, action: str) -> list[FieldSpec]:
    """One FieldSpec per form field of the request schema of `action`."""
    root = validation.schema(version, action, "request")
    specs: list[FieldSpec] = []

    def walk(node: dict[str, Any], path: tuple[str, ...], required: bool) -> None:
        required_names = set(node.get("required", []))
        for name, child in node.get("properties", {}).items():
            if name == "customData":
                continue
            child = _resolve(root, child)
            child_path = (*path, name)
            child_required = required and name in required_names
            kind = child.get("type")
            if kind == "object" and "properties" in child and len(child_path) < MAX_FLATTEN_DEPTH:
                walk(child, child_path, child_required)
            else:
                as_json = kind in ("object", "array") and "enum" not in child
                specs.append(FieldSpec(child_path, child, child_required, as_json))

    walk(root, (), True)
    return specs


def _form_field(spec: FieldSpec) -> forms.Field:
    node = spec.node
    help_text = readable(node.get("description"), limit=300)
    common: dict[str, Any] = {
        "label": spec.label,
        "required": spec.required,
        "help_text": help_text,
    }
    if spec.as_json:
        common["help_text"] = ("JSON. " + help_text).strip()
        return forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), **common)
    if "enum" in node:
        choices = [(value, value) for value in node["enum"]]
        if not spec.required:
            choices = [("", "—"), *choices]
        return forms.ChoiceField(choices=choices, **common)
    kind = node.get("type")
    if kind == "integer":
        return forms.IntegerField(min_value=node.get("minimum"), **common)
    if kind == "number":
        return forms.FloatField(**common)
    if kind == "boolean":
        common["required"] = False
        return forms.NullBooleanField(**common)
    if node.get("format") == "date-time":
        common["help_text"] = "RFC 3339 date-time, e.g. 2026-11-25T10:00:00Z. " + help_text
    return forms.CharField(max_length=node.get("maxLength"), **common)


def _get_path(payload: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = payload
    for part in path:
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _set_path(payload: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for part in path[:-1]:
        payload = payload.setdefault(part, {})
    payload[path[-1]] = value


class CommandForm(forms.Form):
    """The request of one action, field by field or as raw JSON, checked against its schema."""

    payload_json = forms.CharField(
        label="Payload as JSON",
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "cols": 80}),
        help_text="If filled in, sent as it is instead of the fields above.",
    )

    def __init__(
        self,
        *args: Any,
        version: str,
        action: str,
        station: ChargingStation | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.version = version
        self.action = action
        self.specs = schema_fields(version, action)
        initial = default_payload(version, action, station) if not self.is_bound else {}
        payload_field = self.fields.pop("payload_json")
        for spec in self.specs:
            field = _form_field(spec)
            hook = _field_hooks.get((action, spec.label))
            if hook is not None:
                field = hook(field)
            value = _get_path(initial, spec.path)
            if value is not None:
                field.initial = json.dumps(value) if spec.as_json else value
            self.fields[spec.name] = field
        self.fields["payload_json"] = payload_field
        if self.specs:
            return
        # No property at all (ClearCache, ...): nothing but an optional JSON body.
        self.fields["payload_json"].help_text = "This action takes no parameters."

    def full_clean(self) -> None:
        # With a raw JSON payload the per-field requirements do not apply.
        if self.is_bound and (self.data.get(self.add_prefix("payload_json")) or "").strip():
            for spec in self.specs:
                self.fields[spec.name].required = False
        super().full_clean()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        raw = (cleaned.get("payload_json") or "").strip()
        if raw:
            try:
                payload = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise forms.ValidationError(f"The payload is not valid JSON: {exc}") from None
            if not isinstance(payload, dict):
                raise forms.ValidationError("The payload must be a JSON object.")
        else:
            payload = {}
            for spec in self.specs:
                value = cleaned.get(spec.name)
                if value is None or value == "":
                    continue
                if spec.as_json:
                    try:
                        value = json.loads(value)
                    except json.JSONDecodeError as exc:
                        self.add_error(spec.name, f"Not valid JSON: {exc}")
                        continue
                _set_path(payload, spec.path, value)
        if self.errors:
            return cleaned
        try:
            validation.check(self.version, self.action, "request", payload)
        except errors.OcppError as exc:
            raise forms.ValidationError(
                f"Not a valid {self.action} request for OCPP {self.version}: {exc.description}"
            ) from None
        cleaned["payload"] = payload
        return cleaned


# --- sending ------------------------------------------------------------------------------


@dataclass
class CommandResult:
    """What became of a command to one station, worded for the operator."""

    identity: str
    action: str
    payload: dict[str, Any]
    outcome: Outcome | None = None
    problem: str = ""
    timeout: float = 0.0

    @property
    def ok(self) -> bool:
        return self.outcome is not None and self.outcome.ok

    @property
    def summary(self) -> str:
        if self.problem:
            return f"{self.identity}: {self.action} not sent: {self.problem}"
        assert self.outcome is not None
        if self.outcome.status == "completed":
            response = redact(self.action, self.outcome.response or {})
            status = response.get("status")
            detail = status if isinstance(status, str) else json.dumps(response)[:200]
            return f"{self.identity} answered {self.action}: {detail}"
        if self.outcome.status == "timeout":
            return (
                f"{self.identity} did not answer {self.action} within {self.timeout:g} s "
                "(it may still carry it out; see the message log)"
            )
        return (
            f"{self.identity} refused {self.action}: {self.outcome.error_code} "
            f"{self.outcome.error_description}".rstrip()
        )

    # The request and the answer are shown as stored: without the station passwords they
    # may carry (stations.redaction).
    @property
    def response_json(self) -> str:
        if self.outcome is None or self.outcome.response is None:
            return ""
        response = redact(self.action, self.outcome.response)
        return json.dumps(response, indent=2, ensure_ascii=False)

    @property
    def request_json(self) -> str:
        return json.dumps(redact(self.action, self.payload), indent=2, ensure_ascii=False)


def admin_timeout() -> float:
    return float(settings.CSMS_ADMIN_CALL_TIMEOUT)


async def _send(identity: str, action: str, payload: dict[str, Any], timeout: float, user: Any):
    try:
        outcome = await command_send_async(
            identity=identity,
            action=action,
            payload=payload,
            origin="admin",
            user=user,
            timeout=timeout,
        )
    except StationNotConnected as exc:
        return CommandResult(identity, action, payload, problem=str(exc), timeout=timeout)
    return CommandResult(identity, action, payload, outcome=outcome, timeout=timeout)


async def _send_all(calls: list[tuple[str, str, dict[str, Any]]], timeout: float, user: Any):
    return await asyncio.gather(*(_send(i, a, p, timeout, user) for i, a, p in calls))


def send_commands(
    calls: Iterable[tuple[str, str, dict[str, Any]]],
    timeout: float | None = None,
    *,
    user: Any = None,
) -> list[CommandResult]:
    """Send (identity, action, payload) calls at once and wait for every answer, each
    recorded as a Command sent by `user` from the admin (`commands.services`).

    Synchronous for the admin's views; under ASGI the calls run on the server's event loop,
    so the admin waits at most `timeout` (CSMS_ADMIN_CALL_TIMEOUT) whatever the count.
    """
    calls = list(calls)
    if not calls:
        return []
    timeout = admin_timeout() if timeout is None else timeout
    return async_to_sync(_send_all)(calls, timeout, user)


def send_command(
    identity: str,
    action: str,
    payload: dict[str, Any],
    timeout: float | None = None,
    *,
    user: Any = None,
) -> CommandResult:
    return send_commands([(identity, action, payload)], timeout, user=user)[0]
