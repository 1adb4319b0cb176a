"""The assertions cscli writes for a test whose assertion file is empty (`AutoGenParserAssert`,
`AutoGenScenarioAssert`): what the run gave, as lines to review and keep."""

from __future__ import annotations

import json
import posixpath

__all__ = ["parser_asserts", "scenario_asserts"]


def _q(value: str) -> str:
    """A Go-style double-quoted expr string."""
    return json.dumps(value, ensure_ascii=False)


def _unmarshaled(base: str, value) -> list[str]:
    if isinstance(value, dict):
        return [line for k, v in value.items() for line in _unmarshaled(f"{base}[{_q(str(k))}]", v)]
    if isinstance(value, bool):
        return [f"{base} == {'true' if value else 'false'}"]
    if isinstance(value, str):
        return [f"{base} == {_q(value)}"]
    if isinstance(value, int):
        return [f"{base} == {value}"]
    if isinstance(value, float):
        return [f"FloatApproxEqual({base}, {value:f})"]
    return []


def parser_asserts(results: dict) -> str:
    """Assertions on every node's outcome and every non-empty field it left, stage by stage."""
    out = [f"len(results) == {len(results)}"]
    for stage in sorted(results):
        for node in sorted(results[stage]):
            runs = results[stage][node]
            at = f"results[{_q(stage)}][{_q(node)}]"
            out.append(f"len({at}) == {len(runs)}")
            for i, res in enumerate(runs):
                out.append(f"{at}[{i}].Success == {'true' if res.Success else 'false'}")
                if not res.Success:
                    continue
                evt = res.Evt
                for name, fields in (("Parsed", evt.Parsed), ("Meta", evt.Meta), ("Enriched", evt.Enriched)):
                    for key in sorted(fields):
                        value = fields[key]
                        if value == "":
                            continue
                        ref = f"{at}[{i}].Evt.{name}[{_q(key)}]"
                        if name == "Meta" and key == "datasource_path":
                            out.append(f"basename({ref}) == {_q(posixpath.basename(value))}")
                        else:
                            out.append(f"{ref} == {_q(str(value))}")
                for key in sorted(evt.Unmarshaled):
                    out += _unmarshaled(f"{at}[{i}].Evt.Unmarshaled[{_q(key)}]", evt.Unmarshaled[key])
                out.append(f"{at}[{i}].Evt.Whitelisted == {'true' if evt.Whitelisted else 'false'}")
                if evt.WhitelistReason:
                    out.append(f"{at}[{i}].Evt.WhitelistReason == {_q(evt.WhitelistReason)}")
    return "\n".join(out) + "\n"


def scenario_asserts(results: list) -> str:
    """Assertions on every overflow: its sources, its events' meta, scenario, remediation and event count."""
    out = [f"len(results) == {len(results)}"]
    for i, evt in enumerate(results):
        ovf = evt.Overflow
        for value, src in ovf.Sources.items():
            at = f"results[{i}].Overflow.Sources[{_q(value)}]"
            out += [f"{_q(value)} in results[{i}].Overflow.GetSources()", f"{at}.IP == {_q(src.IP)}",
                    f"{at}.Range == {_q(src.Range)}", f"{at}.GetScope() == {_q(src.Scope)}",
                    f"{at}.GetValue() == {_q(src.Value)}"]
        for j, item in enumerate(ovf.Alert.Events):
            for key in sorted(item.Meta):
                ref = f"results[{i}].Overflow.Alert.Events[{j}].GetMeta({_q(key)})"
                value = item.Meta[key]
                if key == "datasource_path":
                    out.append(f"basename({ref}) == {_q(posixpath.basename(value))}")
                else:
                    out.append(f"{ref} == {_q(value)}")
        alert = ovf.Alert
        out += [f"results[{i}].Overflow.Alert.GetScenario() == {_q(alert.Scenario)}",
                f"results[{i}].Overflow.Alert.Remediation == {'true' if alert.Remediation else 'false'}",
                f"results[{i}].Overflow.Alert.GetEventsCount() == {alert.EventsCount}"]
    return "\n".join(out) + "\n"
