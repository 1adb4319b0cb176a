"""`ccscli metrics`: cscli-like tables (Acquisition, Parsers, Buckets, Alerts, Decisions, API, …) from the
counters `synsec replay` adds to the embedded store, or — with `--url` (repeatable; default
$SYNSEC_API_URL + /metrics) — from Prometheus endpoints (`synsec api`, a worker). Several endpoints' samples
with the same name and labels are added up. `-o raw` prints the Prometheus text, `-o json` the tables."""

from __future__ import annotations

from collections.abc import Iterable

import click

from synsec.cli.output import emit_json, output_option, table
from synsec.metrics import Sample

__all__ = ["COMMANDS", "TABLES", "build_tables"]

# (title, key columns (label names), value columns (header, family name)); a row per distinct key.
TABLES = (
    ("Acquisition", ("source",), (("lines read", "synsec_acquisition_lines_read_total"),
                                  ("lines parsed", "synsec_parser_hits_ok_total"),
                                  ("lines unparsed", "synsec_parser_hits_ko_total"),
                                  ("bytes read", "synsec_acquisition_bytes_total"))),
    ("Acquisition errors", ("kind",), (("lines", "synsec_acquisition_line_errors_total"),)),
    ("Inputs", ("kind",), (("count", "synsec_acquisition_inputs_total"),)),
    ("Parsers", ("source",), (("hits ok", "synsec_parser_hits_ok_total"),
                              ("hits ko", "synsec_parser_hits_ko_total"),
                              ("whitelisted", "synsec_parser_whitelisted_total"))),
    ("Parser errors", ("kind",), (("count", "synsec_parser_errors_total"),)),
    ("Buckets", ("scenario",), (("current", "synsec_buckets"), ("overflows", "synsec_bucket_overflowed_total"),
                                ("poured", "synsec_bucket_poured_total"),
                                ("underflows", "synsec_bucket_underflowed_total"),
                                ("canceled", "synsec_bucket_canceled_total"),
                                ("discarded", "synsec_bucket_overflows_discarded_total"),
                                ("errors", "synsec_bucket_errors_total"))),
    ("Alerts", ("scenario",), (("raised", "synsec_alerts_total"), ("stored", "synsec_api_alerts"))),
    ("Decisions", ("origin", "type", "scenario"), (("made", "synsec_decisions_total"),
                                                   ("active", "synsec_api_decisions_active"))),
    ("Profiles", ("kind",), (("errors", "synsec_profile_errors_total"),)),
    ("Allowlists", (), (("alerts allowlisted", "synsec_alerts_allowlisted_total"),)),
    ("Notifications", ("notification",), (("queued", "synsec_notifications_total"),)),
    ("Whitelists", (), (("overflows whitelisted", "synsec_overflows_whitelisted_total"),)),
    ("API", ("route", "method", "code"), (("requests", "synsec_api_requests_total"),)),
    ("API bouncers", ("bouncer", "route"), (("pulls", "synsec_api_bouncer_pulls_total"),)),
    ("Worker agents", ("agent", "counter"), (("count", "synsec_worker_agent_total"),)),
    ("Worker", (), (("buckets held", "synsec_worker_buckets_held"),)),
)
_PLACED = {name for _title, _keys, values in TABLES for _header, name in values}


def _number(value: float | None):
    if value is None:
        return None
    return int(value) if float(value).is_integer() else round(value, 3)


def _tables(by_name: dict[str, list[Sample]]):
    """The layout, then a table for every family it does not place (titled by the family; its labels as keys)."""
    yield from TABLES
    for name, group in by_name.items():
        if name not in _PLACED:
            yield name, tuple(k for k, _v in group[0].labels), (("value", name),)


def build_tables(samples: Iterable[Sample], families: Iterable[str] = ()) -> dict[str, tuple[list[str], list[list]]]:
    """{title: (columns, rows)} for every table with at least one row. A cell is None when its family is
    unknown to the source (neither a sample nor in `families`, e.g. `current` from the store), else 0
    when the row has no sample of it. A family the layout does not know still gets its own table."""
    by_name: dict[str, list[Sample]] = {}
    for s in samples:
        by_name.setdefault(s.name, []).append(s)
    out = {}
    for title, keys, values in _tables(by_name):
        cells: dict[tuple, dict[str, float]] = {}
        for header, name in values:
            for s in by_name.get(name, ()):
                key = tuple(s.get(k) for k in keys)
                row = cells.setdefault(key, {})
                row[header] = row.get(header, 0) + s.value        # summed over labels not shown
        if not cells:
            continue
        present = {header for header, name in values if name in by_name or name in families}
        rows = [[*key, *(_number(cells[key].get(h, 0)) if h in present else None for h, _ in values)]
                for key in sorted(cells)]
        out[title] = ([*keys, *(h for h, _ in values)], rows)
    return out


def _scrape(urls: list[str]) -> tuple[list[Sample], set[str], str]:
    from connectors.api.client import ApiError, scrape
    from synsec.metrics import MetricsParseError, merge_samples, parse

    groups, texts, meta = [], [], {}
    for url in urls:
        try:
            text = scrape(url)
            groups.append(parse(text, meta))
        except ApiError as err:
            raise click.ClickException(str(err)) from None
        except MetricsParseError as err:
            raise click.ClickException(f"{url}: not Prometheus text: {err}") from None
        texts.append(text if len(urls) == 1 else f"# ccscli: scraped from {url}\n{text}")
    return merge_samples(*groups), set(meta), "".join(texts)


def _from_store(settings) -> tuple[list[Sample], set[str], str]:
    """The store's samples, the families replay counts (absent ones are zero), the samples as text."""
    from synsec.metrics import render_samples
    from synsec.assembly.metrics import families_meta
    from synsec.store import Store

    store = Store(settings.state_dir)
    try:
        samples = store.metric_samples()
    finally:
        store.close()
    counted = families_meta()
    meta = {name: kind_help for name, kind_help in counted.items() if any(s.name == name for s in samples)}
    return samples, set(counted), render_samples(samples, meta)


def _urls(given: tuple[str, ...], settings) -> list[str]:
    if given:
        return list(given)
    if settings.api_url:
        base = settings.api_url.rstrip("/")
        return [base if base.endswith("/metrics") else base + "/metrics"]
    return []


@click.command()
@click.option("--url", "urls", multiple=True, metavar="URL",
              help="Prometheus endpoint to read, e.g. http://127.0.0.1:8080/metrics (repeatable). Default: "
                   "$SYNSEC_API_URL + /metrics; without either, the counters in the embedded store.")
@output_option
@click.pass_obj
def metrics(settings, urls, output) -> None:
    """Show lines read/parsed per source, bucket pours/overflows per scenario, alerts, decisions, API use."""
    urls = _urls(urls, settings)
    samples, families, text = _scrape(urls) if urls else _from_store(settings)
    if output == "raw":
        click.echo(text, nl=False)
        return
    tables = build_tables(samples, families)
    if output == "json":
        emit_json({title.lower().replace(" ", "_"): [dict(zip([c.replace(" ", "_") for c in cols], row))
                                                     for row in rows] for title, (cols, rows) in tables.items()})
        return
    if not tables:
        where = ", ".join(urls) if urls else f"the store in {settings.state_dir} (`synsec replay` adds them)"
        click.echo(f"no metrics yet from {where}")
        return
    for title, (cols, rows) in tables.items():
        table(title, cols, [["-" if v is None else v for v in row] for row in rows])


COMMANDS = [metrics]
