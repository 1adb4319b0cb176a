"""`ccscli decisions list|add|delete|import`: on the embedded store, or over synsec's API when an API URL and
key are given (`--api-url`/`--api-key` or $SYNSEC_API_URL/$SYNSEC_API_KEY; the key needs the machine role
to write). Decisions typed here have origin `ccscli` (`ccscli-import` for import), as cscli's do."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from synsec.cli.ccscli.remote import api_call as _call
from synsec.cli.ccscli.remote import api_client as _client
from synsec.cli.ccscli.remote import api_options
from synsec.cli.output import emit_json, output_option, table
from synsec.engine.durations import bounded_until, seconds_text

__all__ = ["COMMANDS"]

_ORIGIN = "ccscli"
_IMPORT_ORIGIN = "ccscli-import"


@click.group()
@api_options
def decisions() -> None:
    """Manage decisions."""


@decisions.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include expired and deleted decisions (store only).")
@click.option("--ip", "value", help="Only decisions for this value (over the API: and ranges containing it).")
@click.option("--scenario")
@click.option("--origin")
@click.option("-r", "--range", "range_", help="Only decisions on ranges holding this range (--contained: inside it).")
@click.option("--contained", is_flag=True, help="With --range: the decisions on IPs and ranges inside it.")
@click.option("-t", "--type", "dtype", help="Only decisions of this type (ban, captcha…).")
@click.option("--since", help="Only decisions taken in the last DURATION (4h, 7d) (store only).")
@click.option("--until", help="Only decisions taken more than DURATION ago (store only).")
@click.option("--no-simu", is_flag=True, help="Leave simulated decisions out (store only; the API has none).")
@click.option("--limit", type=int, default=0)
@output_option
@click.pass_obj
def list_(settings, show_all, value, scenario, origin, range_, contained, dtype, since, until, no_simu, limit,
          output) -> None:
    """List active decisions."""
    client = _client(settings)
    now = time.time()
    if contained and not range_:
        raise click.UsageError("--contained needs --range")
    if client is not None:
        if show_all or since or until or no_simu:
            raise click.UsageError("--all, --since, --until and --no-simu read the embedded store; the API serves "
                                   "active decisions only")
        params = {"ip": value, "scenarios_containing": scenario, "origins": origin, "type": dtype, "range": range_,
                  **({"contains": "false"} if contained else {})}
        rows = _call(client.request, "GET", "/v1/decisions", params) or []
        rows = rows[:limit] if limit else rows
        if output == "json":
            emit_json(rows)
            return
        _table(rows, lambda r: (r["id"], r["duration"], ""))
        return
    from synsec.store import Store

    store = Store(settings.state_dir)
    rows = store.decisions(active_only=not show_all, value=value, scenario=scenario, origin=origin)
    store.close()
    rows = _filtered(rows, now, dtype=dtype, since=since, until=until, no_simu=no_simu, range_=range_,
                     contained=contained)
    rows = rows[:limit] if limit else rows
    for r in rows:     # rows written before durations were bounded: no NaN/Infinity in JSON or the table
        r["until"] = bounded_until(r["until"], now)
        r["duration"] = bounded_until(r["duration"], 0.0)
    if output == "json":
        emit_json(rows)
        return
    _table(rows, lambda r: (r["id"], f"{max(0, int((r['until'] or now) - now))}s"
                            if r["deleted_at"] is None else "deleted", r["alert_id"]))


def _filtered(rows: list[dict], now: float, *, dtype, since, until, no_simu, range_, contained) -> list[dict]:
    """cscli's list filters over store rows: type, taken since/until DURATION ago, no simulated, by range."""
    from synsec.engine.durations import DurationError, parse_duration_with_days
    from synsec.engine.history import covers, target

    bounds = {}
    for name, text in (("--since", since), ("--until", until)):
        if text:
            try:
                bounds[name] = now - parse_duration_with_days(text)
            except DurationError as err:
                raise click.BadParameter(str(err), param_hint=name) from None
    net = target(range_) if range_ else None
    if range_ and net is None:
        raise click.BadParameter(f"{range_[:70]!r} is not an IP or CIDR range", param_hint="--range")

    def keep(r: dict) -> bool:
        if (dtype and r["type"] != dtype) or (no_simu and r["simulated"]):
            return False
        created = r["created_at"] or 0.0
        if created < bounds.get("--since", created) or created > bounds.get("--until", created):
            return False
        if net is None:
            return True
        mine = target(r["value"]) if r["scope"].lower() in ("ip", "range") else None
        return mine is not None and (covers(net, mine) if contained else covers(mine, net))

    return [r for r in rows if keep(r)]


def _table(rows, extra) -> None:
    table(f"{len(rows)} decision(s)", ["id", "source", "scope:value", "reason", "action", "expiration",
                                       "alert id"],
          [[extra(r)[0], r["origin"], f"{r['scope']}:{r['value']}", r["scenario"], r["type"], extra(r)[1],
            extra(r)[2]] for r in rows])


def _store_add(settings, inputs) -> list[int]:
    from connectors.api.sqlite_view import StoreWriter
    from synsec.store import Store

    store = Store(settings.state_dir)
    try:
        return StoreWriter(store).add_decisions(inputs)
    finally:
        store.close()


def _add(settings, inputs, output) -> None:
    client = _client(settings)
    if client is not None:
        ids = _call(client.request, "POST", "/v1/decisions", body=[d.to_dict() for d in inputs])["ids"]
    else:
        ids = _store_add(settings, inputs)
    if output == "json":
        emit_json({"ids": ids, "decisions": [d.to_dict() for d in inputs]})
    elif len(inputs) == 1:
        d = inputs[0]
        click.echo(f"Decision successfully added: {d.type} on {d.scope}:{d.value} for {seconds_text(d.duration)} "
                   f"(id {ids[0]})")
    else:
        click.echo(f"{len(inputs)} decisions successfully added")


@decisions.command("add")
@click.option("-i", "--ip", help="Source IP (IPv4 or IPv6).")
@click.option("-r", "--range", "range_", help="Source range (CIDR, e.g. 192.0.2.0/24).")
@click.option("-v", "--value", help="A value of --scope (Country: FR; AS: 12345; a custom scope: any text).")
@click.option("--scope", default="Ip", show_default=True, help="Scope of --value: Ip, Range, Country, AS or custom.")
@click.option("-d", "--duration", default="4h", show_default=True, help="Go duration (4h, 30m, 1h30m).")
@click.option("-t", "--type", "dtype", default="ban", show_default=True, help="Decision type (ban, captcha…).")
@click.option("-R", "--reason", help="Reason, shown as the decision's scenario.")
@click.option("-B", "--bypass-allowlist", "bypass", is_flag=True,
              help="Add the decision even if an allowlist holds the value.")
@output_option
@click.pass_obj
def add(settings, ip, range_, value, scope, duration, dtype, reason, bypass, output) -> None:
    """Add a decision on an IP, a range or a value of any scope (origin `ccscli`); refused on an allowlisted IP
    or range unless -B."""
    from connectors.api.inputs import InputError, validate

    if sum(map(bool, (ip, range_, value))) != 1:
        raise click.UsageError("give exactly one of --ip, --range or --value")
    item = {"value": ip or range_ or value, "scope": "Ip" if ip else "Range" if range_ else scope,
            "duration": duration, "type": dtype, "reason": reason or f"manual '{dtype}' from ccscli"}
    try:
        inputs = [validate(item, origin=_ORIGIN)]
    except InputError as err:
        raise click.ClickException(str(err)) from None
    if not bypass and inputs[0].scope in ("Ip", "Range"):
        reasons = _allowlisted_by(settings, inputs[0].value)
        if reasons:
            raise click.ClickException(f"{inputs[0].value} is allowlisted by {', '.join(reasons)}; use "
                                       "--bypass-allowlist to add the decision anyway")
    _add(settings, inputs, output)


def _allowlisted_by(settings, value: str) -> list[str]:
    """Why the store (or the API) allowlists `value`, as cscli asks the LAPI before adding a decision."""
    from urllib.parse import quote

    client = _client(settings)
    if client is not None:
        found = _call(client.request, "GET", f"/v1/allowlists/check/{quote(value, safe='')}")
        return [found["reason"]] if found.get("allowlisted") else []
    from synsec.store import Store

    store = Store(settings.state_dir)
    try:
        return store.allowlisted_by(value, time.time())
    finally:
        store.close()


@decisions.command("import")
@click.option("-i", "--input", "path", required=True, help="File to import (`-` for stdin).")
@click.option("--format", "fmt", type=click.Choice(["json", "csv", "values"]),
              help="json (list of objects), csv (header: value,scope,duration,type,reason) or values (one IP "
                   "or range per line). Default: from the file extension, else values.")
@click.option("-d", "--duration", default="4h", show_default=True, help="Default duration.")
@click.option("-t", "--type", "dtype", default="ban", show_default=True, help="Default decision type.")
@click.option("--scope", default="Ip", show_default=True, help="Default scope (Ip or Range).")
@click.option("-R", "--reason", default="manual import from ccscli", show_default=True, help="Default reason.")
@output_option
@click.pass_obj
def import_(settings, path, fmt, duration, dtype, scope, reason, output) -> None:
    """Import decisions from a file; nothing is added unless every entry is valid (origin `ccscli-import`)."""
    from connectors.api.inputs import InputError, parse_import

    text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    fmt = fmt or {".json": "json", ".csv": "csv"}.get(Path(path).suffix.lower(), "values")
    defaults = {"duration": duration, "type": dtype, "scope": scope, "reason": reason, "origin": _IMPORT_ORIGIN}
    try:
        inputs = parse_import(text, fmt, defaults)
    except InputError as err:
        raise click.ClickException(f"{path}: {err}") from None
    _add(settings, inputs, output)


@decisions.command("delete")
@click.option("--ip", "value", help="Delete every decision on this value.")
@click.option("-r", "--range", "range_", help="Delete every decision on this range (exact CIDR).")
@click.option("--id", "decision_id", help="Delete one decision by id (the integer id, or the store's uuid).")
@click.option("-s", "--scenario", help="Delete decisions from this scenario (with another filter or alone).")
@click.option("--origin", help="Only decisions with this origin.")
@click.option("--all", "everything", is_flag=True, help="Delete every active decision.")
@click.pass_obj
def delete(settings, value, range_, decision_id, scenario, origin, everything) -> None:
    """Delete decisions (they stay in the store, marked deleted; bouncers receive the deletion)."""
    value = value or range_
    if not (value or decision_id or scenario or origin or everything):
        raise click.UsageError("give --ip, --range, --id, --scenario, --origin or --all")
    num = _num(decision_id)
    client = _client(settings)
    if client is not None:
        if decision_id and num is None:
            raise click.UsageError("over the API, --id takes the integer id shown by `decisions list`")
        if num is not None:
            n = _call(client.request, "DELETE", f"/v1/decisions/{num}")["nbDeleted"]
        else:
            if everything:
                raise click.UsageError("--all works on the embedded store only")
            n = _call(client.request, "DELETE", "/v1/decisions",
                      {"value": value, "scenario": scenario, "origin": origin})["nbDeleted"]
        click.echo(f"{n} decision(s) deleted")
        return
    from synsec.store import Store

    store = Store(settings.state_dir)
    try:
        n = store.delete_decisions(value=value, decision_id=None if num is not None else decision_id, num=num,
                                   scenario=scenario, origin=origin, everything=everything)
    finally:
        store.close()
    click.echo(f"{n} decision(s) deleted")


def _num(decision_id: str | None) -> int | None:
    """The integer id (ASCII digits, within SQLite's range) given to --id; None for a uuid."""
    from connectors.api.query import QueryError, parse_uint

    try:
        return parse_uint("--id", decision_id) if decision_id else None
    except QueryError:
        return None


COMMANDS = [decisions]
