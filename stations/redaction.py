"""Where a station's credentials travel in OCPP payloads, and the one set of rules that keeps
them out of every row the CSMS stores and every page or answer it serves.

OCPP 2.0.1 A01 (and the 1.6 security whitepaper): a station's Basic-auth password is never
kept in plain text; the CSMS keeps only its hash (stations.passwords). The password still
travels in clear to the station (SetVariables SecurityCtrlr.BasicAuthPassword, 1.6
ChangeConfiguration AuthorizationKey in hex, 2.1 SetNetworkProfile basicAuthPassword), and a
careless station may report it back (GetVariables, GetConfiguration, NotifyReport,
NotifyEvent). The message log, the command records, the device model (variable attributes
and operations, stored reports and events) and the 1.6 configuration keys all store through
these rules; the request that goes to the station is never altered.

Pure functions, no Django imports: the data migrations that redact rows stored before use
them too.
"""

from __future__ import annotations

from typing import Any

REDACTED = "***"

# Where the Basic-auth password lives on the station (OCPP 2.0.1 A01, 1.6 whitepaper).
PASSWORD_COMPONENT = "SecurityCtrlr"
PASSWORD_VARIABLE = "BasicAuthPassword"
PASSWORD_KEY_16 = "AuthorizationKey"

# Component and variable names (2.x ComponentType/VariableType) and 1.6 keys (CiString) are
# case-insensitive: compared casefolded.
PASSWORD_VARIABLES = frozenset({(PASSWORD_COMPONENT.casefold(), PASSWORD_VARIABLE.casefold())})
PASSWORD_KEYS = frozenset({PASSWORD_KEY_16.casefold()})

# SetNetworkProfile connectionData (2.0.1 NetworkConnectionProfileType; 2.1 adds the
# station's basicAuthPassword): the secrets in it, by the object that holds them.
NETWORK_PROFILE_SECRETS = {
    None: ("basicAuthPassword",),
    "vpn": ("password", "key"),
    "apn": ("apnPassword", "simPin"),
}


# The actions whose requests or answers may carry a station credential (see `redact`).
ACTIONS = frozenset(
    {
        "SetVariables",
        "GetVariables",
        "ChangeConfiguration",
        "GetConfiguration",
        "NotifyReport",
        "NotifyEvent",
        "SetNetworkProfile",
    }
)


def is_password_variable(component: Any, variable: Any) -> bool:
    """True for the names of the variable holding the station's password."""
    if not isinstance(component, str) or not isinstance(variable, str):
        return False
    return (component.casefold(), variable.casefold()) in PASSWORD_VARIABLES


def is_password_key(key: Any) -> bool:
    """True for the 1.6 configuration key holding the station's password."""
    return isinstance(key, str) and key.casefold() in PASSWORD_KEYS


def variable_value(component: Any, variable: Any, value: Any) -> Any:
    """`value` as stored for the variable `component`.`variable` (names as in the payload)."""
    if value is not None and is_password_variable(component, variable):
        return REDACTED
    return value


def key_value(key: Any, value: Any) -> Any:
    """`value` as stored for the 1.6 configuration key `key`."""
    if value is not None and is_password_key(key):
        return REDACTED
    return value


def _names(item: Any) -> tuple[Any, Any]:
    component = item.get("component") if isinstance(item, dict) else None
    variable = item.get("variable") if isinstance(item, dict) else None
    return (
        component.get("name") if isinstance(component, dict) else None,
        variable.get("name") if isinstance(variable, dict) else None,
    )


def _item_fields(item: Any, fields: tuple[str, ...]) -> Any:
    """`item` with `fields` redacted if it names the password variable."""
    if not isinstance(item, dict) or not is_password_variable(*_names(item)):
        return item
    if not any(field in item for field in fields):
        return item
    return {**item, **{field: REDACTED for field in fields if field in item}}


def redact_report_item(item: Any) -> Any:
    """A NotifyReport reportData item without the password's attribute values."""
    if not isinstance(item, dict) or not is_password_variable(*_names(item)):
        return item
    attributes = item.get("variableAttribute")
    if not isinstance(attributes, list):
        return item
    return {
        **item,
        "variableAttribute": [
            {**a, "value": REDACTED} if isinstance(a, dict) and "value" in a else a
            for a in attributes
        ],
    }


def redact_event_item(item: Any) -> Any:
    """A NotifyEvent eventData item without the password's value."""
    return _item_fields(item, ("actualValue",))


def _list(payload: dict, key: str, one: Any) -> dict:
    items = payload.get(key)
    if not isinstance(items, list):
        return payload
    redacted = [one(item) for item in items]
    if all(new is old for new, old in zip(redacted, items, strict=True)):
        return payload
    return {**payload, key: redacted}


def _configuration_item(item: Any) -> Any:
    if isinstance(item, dict) and "value" in item and is_password_key(item.get("key")):
        return {**item, "value": REDACTED}
    return item


def _network_profile(payload: dict) -> dict:
    data = payload.get("connectionData")
    if not isinstance(data, dict):
        return payload
    changed = dict(data)
    for holder, fields in NETWORK_PROFILE_SECRETS.items():
        target = changed if holder is None else changed.get(holder)
        if not isinstance(target, dict) or not any(f in target for f in fields):
            continue
        target = {**target, **{f: REDACTED for f in fields if f in target}}
        if holder is None:
            changed = target
        else:
            changed[holder] = target
    return payload if changed == data else {**payload, "connectionData": changed}


def redact(action: str, payload: Any) -> Any:
    """`payload` (a request or an answer of `action`) without station credentials; the
    same object when it holds none, a copy otherwise (the original is left alone)."""
    if not isinstance(payload, dict):
        return payload
    if action == "SetVariables":
        return _list(payload, "setVariableData", lambda i: _item_fields(i, ("attributeValue",)))
    if action == "GetVariables":
        return _list(payload, "getVariableResult", lambda i: _item_fields(i, ("attributeValue",)))
    if action == "ChangeConfiguration":
        return _configuration_item(payload)
    if action == "GetConfiguration":
        return _list(payload, "configurationKey", _configuration_item)
    if action == "NotifyReport":
        return _list(payload, "reportData", redact_report_item)
    if action == "NotifyEvent":
        return _list(payload, "eventData", redact_event_item)
    if action == "SetNetworkProfile":
        return _network_profile(payload)
    return payload
