"""`phishtrace` command line: mirrors the Workspace API. Errors are one line on stderr, never a traceback."""

from __future__ import annotations

import csv
import contextlib
import functools
import os
import sys
from pathlib import Path

import click

from phishtrace import output, registry
from phishtrace.errors import PhishtraceError, one_line

FORMATS = click.Choice(["table", "csv", "json"])
OUTCOME_COLUMNS = ["customer", "campaign", "run", "recipient", "outcome", "stuck_at", "evidence_source",
                   "evidence_ts", "evidence_detail", "match_method", "next_step"]


def _open(db: str | None, read_only: bool = False):
    from phishtrace.workspace import Workspace

    return Workspace(db, read_only=read_only)


def db_option(f):
    return click.option("--db", "db", default=None, metavar="PATH", envvar="PHISHTRACE_DB",
                        help="DuckDB workspace file (default ./phishtrace.duckdb, or $PHISHTRACE_DB; ':memory:' works).")(f)


# the view settings a command line can change (Workspace.configure; defaults in docs/outcomes.md)
TUNING = (
    ("--scanner-seconds", "scanner_seconds", "Interactions within this many seconds of delivery are automated (default 60)."),
    ("--window-hours", "window_hours", "Match mail events up to this many hours after sending (default 72)."),
    ("--window-before-minutes", "window_before_minutes",
     "Match mail events from this many minutes before the platform's Sent time (default 5)."),
    ("--stall-minutes", "stall_minutes", "Scheduling longer than this after the run started is stalled (default 10)."),
    ("--held-hours", "held_hours", "Scheduled and not sent this many hours later is held (default 24)."),
    ("--burst-seconds", "burst_seconds",
     "One IP interacting with --burst-recipients recipients within this many seconds is automated (default 10)."),
    ("--burst-recipients", "burst_recipients", "Recipients that make a burst (default 3)."),
)


def view_options(f):
    """Options that tune the views for one command (session variables, see docs/outcomes.md); the
    command receives them as one `tuning` dict for _tuned()."""
    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        tuning = {key: kwargs.pop(key) for key in ("as_of", *(name for _, name, _ in TUNING))}
        tuning["count_opens"] = False if kwargs.pop("ignore_opens") else None
        return f(*args, tuning=tuning, **kwargs)

    opts = [click.option("--as-of", default=None, metavar="TIMESTAMP",
                         help="'Now' for stalled/held judgements (ISO 8601; default: latest timestamp loaded).")]
    opts += [click.option(flag, name, type=click.IntRange(min=1 if name == "burst_recipients" else 0), default=None,
                          help=text) for flag, name, text in TUNING]
    opts.append(click.option("--ignore-opens", is_flag=True,
                             help="Opens do not count as a person's interaction (mail clients that fetch images "
                                  "themselves, e.g. Apple Mail Privacy Protection, open every message)."))
    for opt in reversed(opts):
        wrapper = opt(wrapper)
    return wrapper


@contextlib.contextmanager
def _tuned(db, tuning: dict):
    """The workspace with the command's view settings for this command only (Workspace.preview): read-only
    unless a different matching window has to recompute the models (then nothing of that is kept)."""
    settings = {key: value for key, value in tuning.items() if value is not None and key != "as_of"}
    if tuning.get("as_of"):
        from phishtrace.timeparse import TimeParseError, parse_iso
        try:
            settings["as_of"] = parse_iso(tuning["as_of"])
        except TimeParseError as exc:
            raise PhishtraceError(f"--as-of: {exc}") from None
    window = any(settings.get(key) is not None for key in ("window_hours", "window_before_minutes"))
    with _open(db, read_only=_exists(db) and not window) as ws, ws.preview(**settings):
        yield ws


def handle_errors(f):
    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        try:
            return f(*args, **kwargs)
        except PhishtraceError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:  # last resort: still one line
            if os.environ.get("PHISHTRACE_DEBUG"):
                raise
            click.echo(f"error: unexpected {type(exc).__name__}: {exc} (set PHISHTRACE_DEBUG=1 for details)", err=True)
            sys.exit(1)
    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="phishtrace")
def main():
    """Where did each phishing-simulation email stop, and why?

    Load a campaign export and mail-flow logs with `ingest`, then ask `outcomes`, `funnel`, `coverage`,
    `trace RECIPIENT`, or any `sql`. Every command takes --db (default ./phishtrace.duckdb).
    """


@main.command()
@db_option
@click.option("--customer", required=True, help="Tenant the files belong to.")
@click.option("--tz", default=None, help="Time zone of formats that carry none (IANA name or +hh:mm).")
@click.option("--year", type=int, default=None, help="Year of syslog lines that carry none.")
@click.option("--sender", "senders", multiple=True, help="A simulation sender address or domain (repeatable).")
@click.option("--aliases", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Two-column CSV 'alias,primary' of recipient aliases for this customer.")
@click.option("--fields", default=None, help="Field layout of header-less Exchange tracking logs (26, 27, 30 or a list).")
@click.option("--campaign", default=None, help="Campaign name for platform exports that carry none (GoPhish results CSV).")
@click.option("--option", "extra", multiple=True, metavar="KEY=VALUE",
              help="A loader option (repeatable), e.g. tap_list=clicksBlocked for bare Proofpoint TAP click records.")
@click.option("--force", is_flag=True, help="Reload files already loaded for this customer (replaces that load).")
@click.argument("files", nargs=-1, required=True)
@handle_errors
def ingest(db, customer, tz, year, senders, aliases, fields, campaign, extra, force, files):
    """Load FILE[:FORMAT]... for a customer. Formats are recognised by content (`sources` lists them);
    ':FORMAT' forces one. Each file loads in its own transaction: a bad file is reported with its line
    and nothing of it is kept."""
    from rich.progress import Progress

    options = {k: v for k, v in {"fields": fields, "campaign": campaign}.items() if v}
    for item in extra:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise PhishtraceError(f"--option {item!r}: expected KEY=VALUE")
        options[key.strip()] = value.strip()
    with _open(db) as ws:
        if aliases:
            ws.add_aliases(customer, _read_aliases(Path(aliases)))
        results = []
        with Progress(transient=True, disable=not sys.stderr.isatty()) as progress:
            task = progress.add_task("ingesting", total=len(files))
            for spec in files:
                progress.update(task, description=f"ingesting {Path(spec).name}")
                results += ws.ingest(customer, [spec], tz=tz, year=year, force=force, options=options)
                progress.advance(task)
        for sender in senders:
            ws.add_sender(customer, sender)
        for r in results:
            if r.status == "unchanged":
                click.echo(f"{r.path}: unchanged ({r.format}, already loaded as load {r.load_id}; --force reloads it)")
            else:
                rej = f", {r.rejects} rejected (see load_rejects)" if r.rejects else ""
                click.echo(f"{r.path}: {r.status} as {r.format} ({r.hop}), {r.rows} rows{rej}, load {r.load_id}")


def _read_aliases(path: Path) -> list[tuple[str, str]]:
    pairs = []
    with path.open(newline="", encoding="utf-8-sig") as fh:
        for n, row in enumerate(csv.reader(fh), start=1):
            if not row or (n == 1 and row[0].strip().lower() == "alias"):
                continue
            if len(row) != 2 or "@" not in row[0] or "@" not in row[1]:
                raise PhishtraceError(f"{path}:{n}: expected two addresses 'alias,primary'")
            pairs.append((row[0], row[1]))
    return pairs


@main.command()
@db_option
@click.option("--format", "fmt", type=FORMATS, default="table")
@handle_errors
def sources(db, fmt):
    """List the input formats, their hop and how each is recognised."""
    import polars as pl

    rows = [{"format": l.name, "hop": l.hop, "produces": l.produces, "needs_tz": l.needs_tz,
             "recognised_by": l.recognised_by} for l in registry.loaders().values()]
    output.emit(pl.DataFrame(rows), fmt, title="phishtrace input formats")


def _query_command(name: str, help_text: str, method: str, columns: list[str] | None = None, campaign: bool = True,
                   summary: tuple[str, str] | None = None):
    """A command printing a Workspace method's frame; `summary` = (method, help) adds --summary."""
    @main.command(name=name, help=help_text)
    @db_option
    @click.option("--customer", default=None, help="Only this customer.")
    @click.option("--campaign", default=None, help="Only this campaign.", hidden=not campaign)
    @click.option("--format", "fmt", type=FORMATS, default="table")
    @click.option("--all-columns", is_flag=True, help="Every column of the view, not only the main ones.")
    @click.option("--summary", "summarise", is_flag=True, hidden=summary is None,
                  help=summary[1] if summary else None)
    @view_options
    @handle_errors
    def command(db, customer, campaign, fmt, all_columns, summarise, tuning):
        with _tuned(db, tuning) as ws:
            fn = getattr(ws, summary[0] if summarise and summary else method)
            df = fn(customer, campaign) if campaign is not None or method != "coverage" else fn(customer)
            if columns and not all_columns:
                df = df.select([c for c in columns if c in df.columns])
            output.emit(df, fmt, title=name)
    return command


def _exists(db) -> bool:
    from phishtrace.db import resolve_db_path
    path = resolve_db_path(db)
    return path != ":memory:" and Path(path).exists() and _fresh(path)


def _fresh(path: str) -> bool:
    """True when the stored views match this version (then the file can be opened read-only)."""
    import duckdb

    from phishtrace import views
    try:
        con = duckdb.connect(path, read_only=True)
    except duckdb.Error:
        return False
    try:
        return views.stored(con, "views") == views.fingerprint()
    except duckdb.Error:
        return False
    finally:
        con.close()


_query_command("outcomes", "One row per recipient: outcome, where it stopped, the evidence and the next step.",
               "outcomes", OUTCOME_COLUMNS)
_query_command("funnel", "Delivery funnel per campaign run: targeted, sent, passed filter, accepted by server, "
               "in inbox, human interaction.", "funnel")
_query_command("latency", "Seconds between hops per recipient and transition.", "latency",
               summary=("latency_summary", "Per run and transition: recipients, mean, median, p90, p99, min, max."))
_query_command("interactions", "Every open/click/reply/data entry, judged human or automated.", "interactions",
               ["customer", "campaign", "run", "recipient", "kind", "event_ts", "automated", "automated_reason",
                "client_ip", "user_agent", "source_format"])
_query_command("unmatched", "Mail events that look like a campaign's (its sender or subject) but matched no "
               "recipient, with the likely cause (an address the export does not know, a send outside the window).",
               "unmatched", ["customer", "campaign", "recipient", "event_ts", "source_format", "action", "sender",
                             "subject", "looks_like", "likely_cause"])
_query_command("alerts", "Campaign warnings: stalled scheduling, recipients still Sent, scanner clicks, bounces.",
               "alerts")


@main.command()
@db_option
@click.option("--customer", default=None, help="Only this customer.")
@click.option("--format", "fmt", type=FORMATS, default="table")
@handle_errors
def coverage(db, customer, fmt):
    """Which hops have logs, for which time range, and the share of messages each source matched."""
    with _open(db, read_only=_exists(db)) as ws:
        df = ws.coverage(customer)
        output.emit(df.select([c for c in ["customer", "hop", "source_format", "loaded", "files", "rows_loaded",
                                           "rows_rejected", "window_start", "window_end", "matched_share",
                                           "window_note", "retention_days", "first_send_fetchable_until"]
                               if c in df.columns]), fmt, title="coverage")


@main.command()
@db_option
@click.argument("recipient")
@click.option("--customer", default=None, help="Only this customer.")
@click.option("--format", "fmt", type=FORMATS, default="table")
@view_options
@handle_errors
def trace(db, recipient, customer, fmt, tuning):
    """Timeline of one RECIPIENT across hops: platform facts, every mail event and interaction."""
    with _tuned(db, tuning) as ws:
        df = ws.trace(recipient, customer)
        if df.height == 0:
            raise PhishtraceError(f"nothing is known about {recipient}" + (f" for customer {customer}" if customer else ""))
        cols = ["customer", "campaign", "run", "event_ts", "hop", "action", "location", "source_format", "source_row",
                "raw_status", "reason", "match_method"]
        output.emit(df.select(cols) if fmt == "table" else df, fmt, title=f"trace {recipient}")
        if fmt == "table":
            out = ws.outcomes(customer).filter(_recipient_filter(recipient))
            if out.height:
                output.emit(out.select(OUTCOME_COLUMNS), "table", title="outcome")


def _recipient_filter(recipient: str):
    import polars as pl
    return pl.col("recipient") == recipient.strip().lower().strip("<>")


@main.command()
@db_option
@click.argument("query")
@click.option("--param", "params", multiple=True, help="Value for a ? placeholder (repeatable, in order).")
@click.option("--format", "fmt", type=FORMATS, default="table")
@view_options
@handle_errors
def sql(db, query, params, fmt, tuning):
    """Run a read-only SQL QUERY over the workspace (tables, raw_* and every view); values via --param."""
    with _tuned(db, tuning) as ws:
        _read_only_query(ws, query)
        output.emit(ws.sql(query, list(params)), fmt)


def _read_only_query(ws, query: str) -> None:
    """Refuse anything but SELECT / EXPLAIN: with a matching-window option the workspace is open read-write
    (inside a transaction that is rolled back), and a statement must not write or end that transaction."""
    import duckdb

    try:
        kinds = [statement.type for statement in ws.con.extract_statements(query)]
    except duckdb.Error as exc:
        raise PhishtraceError(f"SQL error: {one_line(exc)}") from None
    allowed = (duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN)
    refused = [kind.name for kind in kinds if kind not in allowed]
    if refused or not kinds:
        raise PhishtraceError(f"sql runs read-only queries (SELECT, EXPLAIN); got {', '.join(refused) or 'nothing'}")


@main.command(name="export")
@db_option
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), metavar="FOLDER",
              help="Where to write FOLDER/<table>/customer=<name>/data.parquet.")
@click.option("--customer", "customers", multiple=True, help="Only this customer (repeatable; default: all).")
@handle_errors
def export_(db, out_dir, customers):
    """Write each customer's loaded data (raw tables, load manifest, rejects, senders, aliases) as
    hive-partitioned Parquet that DuckDB reads in place; a customer's earlier export in FOLDER is
    replaced, other customers' are kept. `phishtrace import FOLDER` loads it into another workspace."""
    with _open(db, read_only=_exists(db)) as ws:
        written = ws.export_parquet(out_dir, list(customers) or None)
    for table, rows in written.items():
        click.echo(f"{table}: {rows} rows")
    click.echo(f"exported to {Path(out_dir).resolve()}")


@main.command(name="import")
@db_option
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@handle_errors
def import_(db, folder):
    """Load a FOLDER written by `phishtrace export` into this workspace (its customers must not have data
    here yet) and recompute the models, in one transaction."""
    with _open(db) as ws:
        loaded = ws.import_parquet(folder)
    for table, rows in loaded.items():
        click.echo(f"{table}: {rows} rows")


@main.group()
def scanners():
    """A customer's own link scanners: interactions from them count as automated (besides the shipped list)."""


@scanners.command(name="list")
@db_option
@click.option("--customer", default=None, help="Only this customer's own scanners (and the shipped ones).")
@click.option("--format", "fmt", type=FORMATS, default="table")
@handle_errors
def scanners_list(db, customer, fmt):
    """The shipped scanners and the customers' own."""
    with _open(db, read_only=_exists(db)) as ws:
        output.emit(ws.scanners(customer), fmt, title="link scanners")


@scanners.command(name="add")
@db_option
@click.option("--customer", required=True, help="The customer whose interactions it concerns.")
@click.option("--ip-prefix", default=None, help="Addresses that start with this (e.g. 203.0.113.).")
@click.option("--cidr", default=None, help="An IPv4 range (e.g. 203.0.113.0/24).")
@click.option("--user-agent", default=None, help="User agents that contain this text (any case).")
@click.option("--label", default="", help="What the scanner is (shown as the automated reason).")
@handle_errors
def scanners_add(db, customer, ip_prefix, cidr, user_agent, label):
    """Treat interactions from a link scanner as automated for a customer; past interactions are judged
    again at once."""
    given = [(k, v) for k, v in (("ip_prefix", ip_prefix), ("ip_cidr", cidr), ("user_agent", user_agent)) if v]
    if len(given) != 1:
        raise click.UsageError("give exactly one of --ip-prefix, --cidr, --user-agent")
    with _open(db) as ws:
        stored = ws.add_scanner(customer, given[0][0], given[0][1], label)
    click.echo(f"{customer}: {given[0][0]} {stored} counts as a link scanner")


@scanners.command(name="remove")
@db_option
@click.option("--customer", required=True)
@click.argument("pattern")
@handle_errors
def scanners_remove(db, customer, pattern):
    """Remove a customer's own scanner by its PATTERN."""
    with _open(db) as ws:
        n = ws.remove_scanner(customer, pattern)
    click.echo(f"{customer}: removed {n} scanner(s) {pattern}")


@main.group()
def samples():
    """Seeded sample data with planted truth."""


@samples.command("generate")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--recipients", type=int, default=60, show_default=True, help="Recipients in all customers together.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True, help="Output folder.")
@click.option("--customers", default=None, help="Comma-separated customer profiles (default: all).")
@handle_errors
def samples_generate(seed, recipients, out_dir, customers):
    """Write DIR/<customer>/<files> in real formats plus DIR/truth.csv (expected outcome per recipient)."""
    from phishtrace.samples.generate import generate

    names = [c.strip() for c in customers.split(",")] if customers else None
    truth = generate(Path(out_dir), seed=seed, recipients=recipients, customers=names)
    click.echo(f"wrote {out_dir} (truth: {truth})")


@main.command()
@click.option("--samples", "samples_dir", type=click.Path(exists=True, file_okay=False), default="data/samples",
              show_default=True, help="Folder with one sub-folder per customer.")
@click.option("--db", "db", default="reports/demo.duckdb", show_default=True, help="Workspace file for the demo (recreated).")
@handle_errors
def demo(samples_dir, db):
    """Ingest the bundled samples (one folder per customer) and print each customer's outcomes and funnel."""
    from phishtrace.demo import run_demo

    run_demo(Path(samples_dir), db)


@main.command()
@db_option
@click.option("--customer", "customers", multiple=True, help="Render this customer's report (repeatable).")
@click.option("--all", "all_customers", is_flag=True, help="Render every customer's report.")
@click.option("--campaign", default=None, help="Only this campaign (default: every campaign, in <customer>/all.html).")
@click.option("--out", "out_dir", default="reports", show_default=True, type=click.Path(file_okay=False),
              help="Folder for <customer>/<name>.html, .csv and index.html.")
@click.option("--jobs", type=click.IntRange(min=1), default=None, help="Parallel processes (default: CPUs, at most 4).")
@click.option("--as-of", default=None, metavar="TIMESTAMP", help="'Now' for stalled/held judgements (ISO 8601).")
@click.option("--mask-recipients", is_flag=True, help="Replace addresses with stable pseudonyms in every output.")
@click.option("--mask-key", default=None, envvar="PHISHTRACE_MASK_KEY", metavar="KEY",
              help="Key of the pseudonyms (or $PHISHTRACE_MASK_KEY; default: random per run).")
@click.option("--latency-unit", type=click.Choice(["auto", "seconds", "minutes", "hours", "days"]), default="auto",
              show_default=True)
@click.option("--max-rows", type=click.IntRange(min=0), default=1000, show_default=True,
              help="Rows of the not-in-inbox table shown in the HTML (the CSV has all).")
@click.option("--notebook", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Another report notebook with the same parameters (default: the bundled delivery_report.ipynb).")
@click.option("--tz", default="UTC", show_default=True, metavar="ZONE",
              help="Show the page's times in this zone (IANA name or +hh:mm); the CSV stays UTC.")
@click.option("--ignore-opens", is_flag=True, help="Opens do not count as a person's interaction.")
@click.option("--each-campaign", is_flag=True,
              help="Also one page per campaign: <customer>/<campaign>.html beside all.html.")
@handle_errors
def report(db, customers, all_customers, campaign, out_dir, jobs, as_of, mask_recipients, mask_key, latency_unit,
           max_rows, notebook, tz, ignore_opens, each_campaign):
    """Render delivery reports (HTML that opens offline, plus the outcome table as CSV) with papermill.
    A failing customer leaves <name>-error.ipynb and does not stop the others; the exit code is 1 then."""
    from phishtrace.report import report_command

    if bool(customers) == all_customers:
        raise click.UsageError("give --customer NAME (repeatable) or --all")
    code = report_command(db, None if all_customers else list(customers), out_dir, jobs=jobs, campaign=campaign,
                          as_of=as_of, mask_recipients=mask_recipients, mask_key=mask_key,
                          latency_unit=latency_unit, max_table_rows=max_rows, notebook=notebook, time_zone=tz,
                          count_opens=not ignore_opens, each_campaign=each_campaign)
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    main()
