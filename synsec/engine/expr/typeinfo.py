"""What the compiler knows statically about values, so `evt.Meta.x` compiles to a plain `dict.get`.

Types are short strings: "str", "bool", "int", "float", "list", "dict", "strmap" (a Go map[string]string,
missing key reads ""), "any" (unknown), or the name of a model struct ("Event", "Line", "Alert", ...).
"""

from __future__ import annotations

from ..cti import SMOKE_METHODS, SmokeItem
from ..model import Alert, Event, RuntimeAlert, Source
from .gotime import TIME_METHOD_TYPES, Month, Weekday

__all__ = ["STRUCT_FIELDS", "STRUCT_METHODS", "PARAM_TYPES", "field_type", "method", "NUMERIC", "METHOD_NAMES",
           "CLASS_METHODS", "CLOSED_STRUCTS"]

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

# Structs whose every field CrowdSec's expr knows at compile time: another name is a load error there ("type
# pipeline.Event has no field X"), so here too. Values: the fields CrowdSec has and synsec's model lacks (they
# compile, and read as a run-time error).
CLOSED_STRUCTS: dict[str, frozenset[str]] = {"Event": frozenset({"Appsec"}), "Line": frozenset()}

# The only methods an expression may call: the Go methods CrowdSec's expr environment offers on its model
# (name -> (result type, number of arguments)). Anything else -- `format`, `update`, `pop`, a dunder -- is a
# load error: a method call is the one way expression text reaches Python code it did not come with.
STRUCT_METHODS: dict[str, dict[str, tuple[str, int]]] = {
    "Event": {"GetType": ("str", 0), "GetMeta": ("str", 1), "SetMeta": ("bool", 2), "SetParsed": ("bool", 2),
              "ParseIPSources": ("list", 0)},
    "Alert": {"GetScope": ("str", 0), "GetValue": ("str", 0), "GetScenario": ("str", 0),
              "GetEventsCount": ("int", 0), "GetMeta": ("str", 1), "HasRemediation": ("bool", 0)},
    "RuntimeAlert": {"GetSources": ("list", 0)},
    "Source": {"GetValue": ("str", 0), "GetScope": ("str", 0), "GetAsNumberName": ("str", 0)},
    "SmokeItem": SMOKE_METHODS,                   # what CrowdsecCTI(ip) returns (synsec.engine.cti)
    "Time": TIME_METHOD_TYPES,                    # a time (evt.Time, Alert.StartAt): gotime, called by runtime.call
    "Weekday": {"String": ("str", 0)}, "Month": {"String": ("str", 0)},
}
METHOD_NAMES = frozenset(name for methods in STRUCT_METHODS.values() for name in methods)
# What a call on a value of unknown static type may reach at run time: the class itself, not a look-alike.
CLASS_METHODS: dict[type, frozenset[str]] = {
    cls: frozenset(STRUCT_METHODS[cls.__name__]) for cls in (Event, Alert, RuntimeAlert, Source, SmokeItem, Weekday,
                                                             Month)}

PARAM_TYPES = {"evt": "Event", "Alert": "Alert"}


def field_type(struct: str, name: str) -> str | None:
    """The type of struct.name, or None when the struct has no such field (the compiler then goes generic)."""
    fields = STRUCT_FIELDS.get(struct)
    return None if fields is None else fields.get(name)


def method(struct: str, name: str) -> tuple[str, int] | None:
    """(result type, argument count) of struct.name(), or None when the struct offers no such method."""
    methods = STRUCT_METHODS.get(struct)
    return None if methods is None else methods.get(name)
