"""What the compiler knows statically about values, so `evt.Meta.x` compiles to a plain `dict.get`.

Types are short strings: "str", "bool", "int", "float", "list", "dict", "strmap" (a Go map[string]string,
missing key reads ""), "any" (unknown), or the name of a model struct ("Event", "Line", "Alert", ...).
"""

from __future__ import annotations

__all__ = ["STRUCT_FIELDS", "STRUCT_METHODS", "PARAM_TYPES", "field_type", "method_type", "NUMERIC"]

NUMERIC = frozenset({"int", "float"})

STRUCT_FIELDS: dict[str, dict[str, str]] = {
    "Event": {
        "Type": "int", "ExpectMode": "int", "Whitelisted": "bool", "WhitelistReason": "str", "Stage": "str",
        "Line": "Line", "Parsed": "strmap", "Enriched": "strmap", "Unmarshaled": "dict", "Meta": "strmap",
        "Overflow": "RuntimeAlert", "StrTime": "str", "StrTimeFormat": "str", "MarshaledTime": "str",
        "Process": "bool", "Time": "any",
    },
    "Line": {"Raw": "str", "Src": "str", "Time": "any", "Labels": "strmap", "Process": "bool", "Module": "str"},
    "RuntimeAlert": {"Alert": "Alert", "Sources": "dict", "Reprocess": "bool", "Mapkey": "str",
                     "BucketId": "str", "Whitelisted": "bool", "Reason": "str"},
    "Alert": {
        "Scenario": "str", "Source": "Source", "EventsCount": "int", "StartAt": "any", "StopAt": "any",
        "Events": "list", "Labels": "dict", "Remediation": "bool", "Simulated": "bool", "Capacity": "int",
        "Leakspeed": "str", "ScenarioVersion": "str", "ScenarioHash": "str", "Message": "str", "Meta": "any",
        "Decisions": "list", "UUID": "str",
    },
    "Source": {"Scope": "str", "Value": "str", "IP": "str", "Range": "str", "AsNumber": "str", "AsName": "str",
               "Cn": "str", "Latitude": "float", "Longitude": "float"},
}

STRUCT_METHODS: dict[str, dict[str, str]] = {
    "Event": {"GetType": "str", "GetMeta": "str"},
    "Alert": {"GetScope": "str", "GetValue": "str", "GetScenario": "str", "GetEventsCount": "int"},
}

PARAM_TYPES = {"evt": "Event", "Alert": "Alert"}


def field_type(struct: str, name: str) -> str | None:
    """The type of struct.name, or None when the struct has no such field (the compiler then goes generic)."""
    fields = STRUCT_FIELDS.get(struct)
    return None if fields is None else fields.get(name)


def method_type(struct: str, name: str) -> str | None:
    methods = STRUCT_METHODS.get(struct)
    return None if methods is None else methods.get(name)
