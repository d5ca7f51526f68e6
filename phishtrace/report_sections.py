"""The delivery report's content: `load(params)` reads one customer's rows (read-only, masked when asked)
and each section function returns an IPython HTML object for notebooks/delivery_report.ipynb.

Everything here is filtered by customer (and campaign) through the Workspace API, so a report only
ever holds its own customer's rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import polars as pl

from phishtrace import charts, output
from phishtrace import report_html as H
from phishtrace.errors import PhishtraceError
from phishtrace.masking import Masker, NoMask
from phishtrace.outcome_sets import IN_INBOX
from phishtrace.report_params import ReportParams

# the outcome table written as CSV beside the report
CSV_COLUMNS = ["customer", "campaign", "run", "recipient", "outcome", "stuck_at", "evidence_source", "evidence_file",
               "evidence_row", "evidence_ts", "evidence_detail", "match_method", "next_step", "platform_status",
               "subject", "sender", "scheduled_at", "sent_at", "mail_delivered_ts", "first_human_ts",
               "human_interactions", "automated_interactions", "reported_at"]
NOT_IN_INBOX = {"campaign": "campaign", "run": "run", "recipient": "recipient", "outcome_label": "outcome",
                "stuck_at": "stopped at", "evidence": "evidence", "next_step": "next step"}
HOP_NAMES = {"filter": "mail filter", "server": "mail server", "mailbox": "mailbox (post-delivery)"}
# a time window as the outcome views write it into next steps: 2025-06-07 10:38 to 2025-06-08 10:43 UTC
WINDOW = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}(?::\d{2})?(?: UTC)? to \d{4}-\d{2}-\d{2} \d{2}:\d{2}(?::\d{2})?(?: UTC)?"


@dataclass
class Report:
    params: ReportParams
    as_of: datetime | None
    generated_at: datetime
    masked: bool
    outcomes: pl.DataFrame
    funnel: pl.DataFrame
    latency: pl.DataFrame
    coverage: pl.DataFrame
    alerts: pl.DataFrame
    scanner_seconds: int = 60
    campaigns: list[str] = field(default_factory=list)
    campaign_label: str | None = None  # the campaign filter as shown (masked like everything else)

    @property
    def customer(self) -> str:
        return self.params.customer

    @property
    def campaign(self) -> str | None:
        return self.campaign_label


def _show(markup: str):
    from IPython.display import HTML
    return HTML(markup)


def open_workspace(db: str | None):
    """The workspace file, read-only (many report processes can read it at once)."""
    from phishtrace.db import resolve_db_path
    from phishtrace.workspace import Workspace

    path = resolve_db_path(db)
    if path == ":memory:" or not Path(path).is_file():
        raise PhishtraceError(f"no workspace file at {path}: ingest data first (phishtrace ingest --db {path} ...)")
    return Workspace(path, read_only=True)


def load(params: ReportParams | None = None, **kwargs) -> Report:
    """Read everything the report shows for params.customer (and params.campaign)."""
    params = params or ReportParams(**kwargs)
    H.set_time_zone(params.zone())
    masker = Masker.from_env() if params.mask_recipients else NoMask()
    with open_workspace(params.db) as ws:
        if params.customer not in ws.customers():
            raise PhishtraceError(f"no data loaded for customer {params.customer!r}")
        as_of = params.as_of_datetime()
        if as_of is not None:
            ws.configure(as_of=as_of)
        if not params.count_opens:
            ws.configure(count_opens=False)
        outcomes = ws.outcomes(params.customer, params.campaign)
        if params.campaign is not None and not outcomes.height:
            raise PhishtraceError(f"customer {params.customer!r} has no campaign {params.campaign!r}")
        files = ws.manifest(params.customer).select(
            "load_id", pl.col("path").map_elements(lambda p: Path(p).name, return_dtype=pl.Utf8).alias("file"))
        outcomes = outcomes.join(files.rename({"load_id": "evidence_load_id", "file": "evidence_file"}),
                                 on="evidence_load_id", how="left")
        funnel = ws.funnel(params.customer, params.campaign)
        latency = ws.latency(params.customer, params.campaign).select("transition_order", "transition", "seconds")
        coverage = ws.coverage(params.customer)
        alerts = ws.alerts(params.customer, params.campaign)
        shown_as_of = as_of or ws.as_of(params.customer)
        scanner = ws.sql("SELECT CAST(coalesce(getvariable('pt_scanner_seconds'), 60) AS BIGINT) AS s")["s"][0]
    masker.learn_domains(outcomes["recipient"].to_list())
    outcomes = masker.frame(outcomes)
    return Report(
        params=params, as_of=shown_as_of, generated_at=datetime.now(timezone.utc),
        masked=params.mask_recipients, outcomes=outcomes, funnel=masker.frame(funnel), latency=latency,
        coverage=masker.frame(coverage), alerts=masker.frame(alerts), scanner_seconds=int(scanner),
        campaigns=sorted(set(outcomes["campaign"].drop_nulls().to_list())),
        campaign_label=masker.text(params.campaign))


# -- derived tables ----------------------------------------------------------------------------
def _with_labels(df: pl.DataFrame) -> pl.DataFrame:
    labels = [charts.label_outcome(o, h) for o, h in df.select("outcome", "stuck_at").iter_rows()]
    return df.with_columns(pl.Series("outcome_label", labels, dtype=pl.Utf8))


def not_in_inbox(rep: Report) -> pl.DataFrame:
    """Recipients that did not reach the inbox, in hop order, with their evidence in one column."""
    hop = {h: i for i, h in enumerate(charts.HOPS)}
    df = rep.outcomes.filter(~pl.col("outcome").is_in(IN_INBOX))
    evidence = pl.concat_str(
        [pl.coalesce(pl.col("evidence_file"), pl.col("evidence_source")),
         pl.when(pl.col("evidence_row").is_not_null()).then(pl.format(" line {}", pl.col("evidence_row")))
         .otherwise(pl.lit("")),
         pl.when(pl.col("evidence_ts").is_not_null())
         .then(pl.format(", {}", pl.col("evidence_ts").map_elements(H.text, return_dtype=pl.Utf8)))
         .otherwise(pl.lit("")),
         pl.when(pl.col("evidence_detail").is_not_null() & (pl.col("evidence_detail") != ""))
         .then(pl.format(": {}", pl.col("evidence_detail"))).otherwise(pl.lit(""))],
        separator="", ignore_nulls=True)
    df = df.with_columns(evidence.alias("evidence"),
                         pl.col("stuck_at").replace_strict(hop, default=len(hop), return_dtype=pl.Int64).alias("_h"))
    return _with_labels(df.sort(["_h", "outcome", "campaign", "run", "recipient"]).drop("_h"))


def outcome_csv(rep: Report) -> str:
    """The outcome table as CSV (cells that would run as spreadsheet formulas neutralised)."""
    return output.to_csv(rep.outcomes.select([c for c in CSV_COLUMNS if c in rep.outcomes.columns]))


def summary_lines(rep: Report) -> tuple[list[str], list[str]]:
    """(sentences, top next steps) summarising the report in words."""
    o = rep.outcomes
    n = o.height
    if not n:
        return ["No campaign recipients are loaded for this selection."], []
    pct = lambda k: f"{100 * k / n:.1f}%"  # noqa: E731
    inbox = o.filter(pl.col("outcome").is_in(IN_INBOX)).height
    human = o.filter(pl.col("outcome") == "interacted").height
    sent = o.filter(pl.col("sent_at").is_not_null()).height
    runs = o.select("campaign", "run").unique().height
    scope = f"campaign {rep.campaign}" if rep.campaign else f"{len(rep.campaigns)} campaign(s)"
    lines = [f"{n:,} recipient(s) were targeted in {scope} ({runs} run(s)); {sent:,} ({pct(sent)}) were sent.",
             f"{inbox:,} ({pct(inbox)}) reached the inbox, and a person interacted with {human:,} ({pct(human)})."]
    rest = o.filter(~pl.col("outcome").is_in(IN_INBOX))
    if rest.height:
        # a next step that names one message's window reads, for the group, as "each message's send window"
        general = pl.col("next_step").str.replace(WINDOW, "each message's send window")
        groups = (rest.group_by("outcome", "stuck_at").agg(pl.len().alias("n"), general.mode().first())
                  .sort(["n", "outcome"], descending=[True, False]))
        parts = [f"{charts.label_outcome(oc, h)}: {k:,} ({pct(k)})"
                 for oc, h, k in groups.select("outcome", "stuck_at", "n").head(6).iter_rows()]
        if groups.height > 6:
            parts.append(f"{groups.height - 6} smaller group(s), see the breakdown")
        lines.append(f"The other {rest.height:,} stopped here: " + "; ".join(parts) + ".")
        steps = [f"{step} ({k:,} recipient(s) {charts.label_outcome(oc, h)})"
                 for oc, h, k, step in groups.select("outcome", "stuck_at", "n", "next_step").head(3).iter_rows()
                 if step]
    else:
        lines.append("Every targeted recipient reached the inbox.")
        steps = []
    high = rep.alerts.filter(pl.col("severity") == "high").height if rep.alerts.height else 0
    if rep.alerts.height:
        lines.append(f"{rep.alerts.height} alert(s), {high} of high severity: see Alerts.")
    gaps = load_next(rep)
    if gaps:
        lines.append(f"Log coverage has {len(gaps)} gap(s): see Coverage.")
    return lines, steps


def load_next(rep: Report) -> list[str]:
    """What logs to load next: hops with nothing loaded, and loaded windows that miss send times."""
    cov = rep.coverage
    if not cov.height:
        return []
    first, last = cov["first_sent"].min(), cov["last_sent"].max()
    window = f"{H.text(first)} to {H.text(last)}" if first is not None else "the campaign's send window"
    out = []
    for hop in ("filter", "server", "mailbox"):
        rows = cov.filter(pl.col("hop") == hop)
        name = HOP_NAMES[hop]
        if not rows.height or not rows["loaded"].any():
            extra = " if mail passes through one" if hop == "filter" else ""
            out.append(f"No {name} logs are loaded: load them{extra}, covering {window} (plus the delivery window).")
            continue
        for src, note in rows.filter(pl.col("window_note").is_not_null()
                                     & (pl.col("window_note") != "covers every send time")) \
                             .select("source_format", "window_note").iter_rows():
            out.append(f"{name} logs ({src}) {note}: load {src} covering {window}.")
    unverified = rep.outcomes.filter(pl.col("outcome") == "unverified").height
    if unverified:
        out.append(f"{unverified} recipient(s) are unverified: their next step in the table below names the logs "
                   "and window to load or search.")
    return out


# -- sections (each returns HTML for the notebook) ---------------------------------------------
def header(rep: Report):
    scope = f"campaign {rep.campaign}" if rep.campaign else "all campaigns"
    meta = [f"Customer {rep.customer}", scope, f"as of {H.text(rep.as_of) or 'n/a'}",
            f"generated {H.text(rep.generated_at)}"]
    meta.append(f"times in {rep.params.time_zone}" + (" (the CSV is UTC)" if rep.params.time_zone != "UTC" else ""))
    if not rep.params.count_opens:
        meta.append("opens not counted as interactions")
    if rep.masked:
        meta.append("recipient addresses masked")
    return _show(f"<h1>Delivery report: {H.esc(rep.customer)}</h1>"
                 f'<p class="pt-meta">{" · ".join(H.esc(m) for m in meta)}</p>')


def summary(rep: Report):
    lines, steps = summary_lines(rep)
    body = H.paragraphs(lines)
    if steps:
        body += "<p><strong>Top next steps</strong></p>" + H.bullet_list(steps, ordered=True)
    return _show(f'<div class="pt-summary">{body}</div>')


def _figure(chart, name: str, caption: str | None = None) -> str:
    return H.figure(charts.to_svg(chart) if chart is not None else None, name, caption)


def funnel(rep: Report):
    fig = _figure(charts.funnel_chart(rep.funnel, rep.outcomes), "funnel",
                  "A recipient counts at a stage only with log evidence that it got there.")
    cols = {"campaign": "campaign", "run": "run", "targeted": "targeted", "sent": "sent",
            "passed_filter": "passed filter", "accepted_by_server": "accepted by server", "in_inbox": "in inbox",
            "human_interaction": "human interaction", "automated_interaction": "automated interaction",
            "inbox_rate": "inbox rate", "raw_interaction_rate": "any interaction rate (raw)",
            "human_interaction_rate": "human interaction rate (bot-adjusted)"}
    return _show(fig + H.table(rep.funnel, cols, empty="No campaign runs."))


def outcome_breakdown(rep: Report):
    data = charts.outcome_breakdown_data(rep.outcomes)
    fig = _figure(charts.outcome_breakdown_chart(rep.outcomes) if data.height else None, "outcomes")
    return _show(fig + H.table(data, {"label": "outcome", "stuck_at": "stopped at", "recipients": "recipients",
                                      "count_label": "share"}))


def latency(rep: Report):
    chart = charts.latency_chart(rep.latency, unit=rep.params.latency_unit)
    pct = charts.latency_percentiles(rep.latency, charts.MAIL_TRANSITIONS + list(charts.INTERACTION_TRANSITIONS))
    wide = (pct.with_columns(pl.col("seconds").map_elements(charts.format_duration, return_dtype=pl.Utf8).alias("v"))
            .pivot(on="percentile", index=["transition_order", "transition", "n"], values="v")
            .sort("transition_order")
            .with_columns(pl.col("transition").replace(charts.TRANSITION_LABELS)))
    fig = _figure(chart, "latency", "Log scale; dashed lines mark the 50th, 90th and 99th percentiles.")
    return _show(fig + H.table(wide, {"transition": "between", "n": "recipients", "p50": "p50", "p90": "p90",
                                      "p99": "p99"}, empty="No delays could be measured."))


def interactions(rep: Report):
    chart = charts.interaction_timing_chart(rep.latency, scanner_seconds=rep.scanner_seconds)
    return _show(_figure(chart, "interactions",
                         f"Interactions within {rep.scanner_seconds} s of delivery, before it, from known scanner "
                         "addresses or in bursts count as automated (link scanners), not as a person."))


def alerts(rep: Report):
    cols = {"campaign": "campaign", "run": "run", "severity": "severity", "alert": "alert",
            "recipients": "recipients", "detail": "detail"}
    df = rep.alerts.sort(pl.col("severity").replace_strict({"high": 0, "medium": 1}, default=2, return_dtype=pl.Int64),
                         "campaign", "run") if rep.alerts.height else rep.alerts
    return _show(H.table(df, cols, empty="No alerts: scheduling, delivery and interaction rates look normal."))


def coverage(rep: Report):
    fig = _figure(charts.coverage_chart(rep.coverage), "coverage")
    cols = {"hop": "hop", "source_format": "source", "loaded": "loaded", "files": "files",
            "rows_loaded": "rows", "window_start": "from", "window_end": "to", "matched_share": "messages matched",
            "window_note": "window"}
    todo = load_next(rep)
    nxt = ("<p><strong>What to load next</strong></p>" + H.bullet_list(todo)) if todo else \
        '<p class="pt-note">Every hop has logs covering the send window.</p>'
    table = H.table(rep.coverage.sort("hop_order", "source_format", nulls_last=True), cols, empty="Nothing loaded.")
    return _show(fig + table + nxt)


def recipients_not_in_inbox(rep: Report):
    df = not_in_inbox(rep)
    empty = "Every recipient reached the inbox." if rep.outcomes.height else "No campaign recipients are loaded."
    return _show(H.table(df, NOT_IN_INBOX, max_rows=rep.params.max_table_rows, empty=empty))


def write_outcomes_csv(rep: Report):
    """Write the outcome table to params.outcomes_csv (when set) and say where it is."""
    if not rep.params.outcomes_csv:
        return _show('<p class="pt-note">The outcome table was not exported.</p>')
    path = Path(rep.params.outcomes_csv)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(outcome_csv(rep), encoding="utf-8")
    return _show(f'<p class="pt-note">The full outcome table ({rep.outcomes.height} rows) is in the CSV file '
                 "beside this report.</p>")
