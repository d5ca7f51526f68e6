"""Altair charts of the library's DataFrames (Workspace.funnel/outcomes/latency/coverage/trace).

Every chart aggregates before plotting: a chart embeds one row per stage, outcome, histogram bin or
source, never one per recipient (a 200,000-recipient campaign embeds the same few dozen rows). The
`*_data` functions return those aggregates as polars DataFrames, so they can be tested and tabled.
`to_svg` renders a chart to a static SVG with vl-convert (no JavaScript, no network).
"""

from __future__ import annotations

import math

import altair as alt
import polars as pl

from phishtrace.outcome_sets import IN_INBOX

HOPS = ["platform", "filter", "server", "mailbox", "none"]
HOP_COLORS = ["#7f7f7f", "#d62728", "#ff7f0e", "#9467bd", "#2ca02c"]
OUTCOMES = ["scheduling_stalled", "held_bounced_learner", "bounced", "filter_quarantined", "filter_deferred",
            "server_quarantined", "server_junked", "server_failed", "removed_after_delivery", "moved_by_rule",
            "unverified", "delivered", "interacted"]
OUTCOME_LABELS = {
    "scheduling_stalled": "scheduling stalled",
    "held_bounced_learner": "held: learner flagged bounced",
    "bounced": "bounced",
    "filter_quarantined": "quarantined by the filter",
    "filter_deferred": "deferred at the filter",
    "server_quarantined": "quarantined by the server",
    "server_junked": "junked by the server",
    "server_failed": "failed at the server",
    "removed_after_delivery": "removed after delivery",
    "moved_by_rule": "moved by a rule",
    "unverified": "unverified",
    "delivered": "in the inbox",
    "interacted": "in the inbox, a person interacted",
}
# outcomes that can stop at more than one hop: their label names the hop
MULTI_HOP = {"bounced", "unverified"}
STAGES = ["targeted", "sent", "passed filter", "accepted by server", "in inbox", "human interaction"]
STAGE_COLUMNS = ["targeted", "sent", "passed_filter", "accepted_by_server", "in_inbox", "human_interaction"]
# outcomes the funnel counts as accepted by the server (fct_campaign_funnel)
ACCEPTED = ["server_quarantined", "server_junked", "removed_after_delivery", "moved_by_rule", "interacted", "delivered"]
MAIL_TRANSITIONS = ["scheduled_to_sent", "sent_to_filter", "filter_to_server", "server_to_mailbox", "sent_to_delivered"]
INTERACTION_TRANSITIONS = {"delivered_to_first_human": "a person",
                           "delivered_to_first_automated": "automated (scanner)"}
TRANSITION_LABELS = {
    "scheduled_to_sent": "scheduled → sent",
    "sent_to_filter": "sent → mail filter",
    "filter_to_server": "mail filter → mail server",
    "server_to_mailbox": "mail server → mailbox",
    "sent_to_delivered": "sent → delivered (end to end)",
    "delivered_to_first_human": "delivered → first interaction by a person",
    "delivered_to_first_automated": "delivered → first automated interaction",
}
PERCENTILES = {"p50": 0.5, "p90": 0.9, "p99": 0.99}
PERCENTILE_COLORS = ["#1f77b4", "#ff7f0e", "#d62728"]
UNITS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}
LATENCY_UNITS = ["auto", *UNITS]
FLOOR_SECONDS = 0.1  # log-scale histograms start here; shorter (and negative) delays fall in the first bin
BINS_PER_DECADE = 4
WIDTH = 520


def label_outcome(outcome: str | None, stuck_at: str | None = None) -> str:
    text = OUTCOME_LABELS.get(outcome or "", outcome or "unknown")
    if outcome in MULTI_HOP and stuck_at:
        text += f" (at {stuck_at})"
    return text


def format_duration(seconds: float | None) -> str:
    """12 s, 4.5 min, 3.2 h, 2.1 d (a short human form of a delay)."""
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "n/a"
    sign = "-" if seconds < 0 else ""
    s = abs(seconds)
    for limit, unit, div in ((60, "s", 1), (3600, "min", 60), (86400, "h", 3600), (math.inf, "d", 86400)):
        if s < limit:
            value = s / div
            text = f"{value:.0f}" if value >= 100 or value == int(value) else f"{value:.3g}"
            return f"{sign}{text} {unit}"
    return f"{sign}{s:.0f} s"  # pragma: no cover


def to_svg(chart: alt.TopLevelMixin) -> str:
    """Render to a standalone SVG (text is XML-escaped by the renderer)."""
    import vl_convert as vlc
    from altair.utils._importers import vl_version_for_vl_convert

    return vlc.vegalite_to_svg(chart.to_dict(), vl_version=vl_version_for_vl_convert())


def _iso(col: str) -> pl.Expr:
    return pl.col(col).dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ")


# -- funnel ------------------------------------------------------------------------------------
def drop_stage(outcomes: pl.DataFrame) -> pl.DataFrame:
    """Per recipient row: the funnel stage it did not reach (null when it reached every stage), with the
    same stage rules as fct_campaign_funnel."""
    sent = pl.col("sent_at").is_not_null()
    passed = sent & ~pl.col("stuck_at").is_in(["platform", "filter"])
    accepted = pl.col("outcome").is_in(ACCEPTED) | (
        (pl.col("outcome") == "unverified") & pl.col("stuck_at").is_in(["server", "mailbox"]))
    inbox = pl.col("outcome").is_in(IN_INBOX)
    human = pl.col("outcome") == "interacted"
    stage = (pl.when(~sent).then(pl.lit("sent"))
             .when(~passed).then(pl.lit("passed filter"))
             .when(~accepted).then(pl.lit("accepted by server"))
             .when(~inbox).then(pl.lit("in inbox"))
             .when(~human).then(pl.lit("human interaction"))
             .otherwise(pl.lit(None, dtype=pl.Utf8)))
    return outcomes.select("outcome", "stuck_at", stage.alias("dropped_at"))


def funnel_data(funnel: pl.DataFrame, outcomes: pl.DataFrame | None = None, top: int = 3) -> pl.DataFrame:
    """One row per stage: recipients (summed over the funnel rows given), share of targeted, share of the
    previous stage, how many were lost before it and, from `outcomes`, the outcomes they were lost to."""
    totals = [int(funnel[c].sum()) if funnel.height else 0 for c in STAGE_COLUMNS]
    rows = []
    for i, (stage, n) in enumerate(zip(STAGES, totals)):
        prev = totals[i - 1] if i else n
        rows.append({"stage_order": i, "stage": stage, "recipients": n,
                     "rate": round(n / totals[0], 4) if totals[0] else 0.0,
                     "step_rate": round(n / prev, 4) if prev else 0.0,
                     "dropped": prev - n if i else 0})
    data = pl.DataFrame(rows, schema_overrides={"stage_order": pl.Int64, "recipients": pl.Int64, "dropped": pl.Int64})
    labels = {s: "" for s in STAGES}
    if outcomes is not None and outcomes.height:
        lost = (drop_stage(outcomes).drop_nulls("dropped_at")
                .group_by("dropped_at", "outcome", "stuck_at").agg(pl.len().alias("n"))
                .sort(["dropped_at", "n", "outcome"], descending=[False, True, False]))
        for stage in STAGES[1:]:
            part = lost.filter(pl.col("dropped_at") == stage)
            items = [f"{label_outcome(o, h)} {n}" for o, h, n in part.select("outcome", "stuck_at", "n").iter_rows()]
            if len(items) > top:
                items = items[:top] + [f"{len(items) - top} more"]
            labels[stage] = ", ".join(items)
    return data.with_columns(
        pl.col("stage").replace_strict(labels, return_dtype=pl.Utf8).alias("lost_to"),
        pl.format("{} ({}%)", pl.col("recipients"),
                  (pl.col("recipients") / max(totals[0], 1) * 100).round(1)).alias("count_label"),
        pl.when(pl.col("dropped") > 0).then(pl.format("−{}", pl.col("dropped"))).otherwise(pl.lit(""))
        .alias("dropped_label"),
    )


def funnel_chart(funnel: pl.DataFrame, outcomes: pl.DataFrame | None = None) -> alt.HConcatChart:
    """Targeted → sent → passed filter → accepted by server → in inbox → human interaction: counts and
    share of targeted, and beside each stage the recipients lost before it, by outcome."""
    data = funnel_data(funnel, outcomes)
    y = alt.Y("stage:N", sort=STAGES, title=None)
    base = alt.Chart(data)
    bars = base.mark_bar(color="#4c78a8").encode(
        y=y, x=alt.X("recipients:Q", title="recipients"),
        tooltip=["stage:N", "recipients:Q", alt.Tooltip("rate:Q", format=".1%"), "dropped:Q", "lost_to:N"])
    counts = base.mark_text(align="left", dx=4).encode(y=y, x="recipients:Q", text="count_label:N")
    left = alt.layer(bars, counts).properties(width=WIDTH * 0.6, title="recipients reaching each stage")
    lost = base.mark_text(align="left", baseline="middle", color="#b03a2e").encode(
        y=alt.Y("stage:N", sort=STAGES, axis=None), x=alt.value(0), text="dropped_label:N")
    why = base.mark_text(align="left", baseline="middle", color="#333333").encode(
        y=alt.Y("stage:N", sort=STAGES, axis=None), x=alt.value(40), text="lost_to:N")
    right = alt.layer(lost, why).properties(width=WIDTH * 0.7, title="lost before this stage, by outcome")
    return alt.hconcat(left, right, spacing=30).resolve_scale(y="shared").configure_view(stroke=None)


# -- outcome breakdown -------------------------------------------------------------------------
def outcome_breakdown_data(outcomes: pl.DataFrame) -> pl.DataFrame:
    """Recipients per (stuck_at, outcome), in hop order then largest first, with a display label."""
    total = outcomes.height
    if not total:
        return pl.DataFrame(schema={"stuck_at": pl.Utf8, "outcome": pl.Utf8, "recipients": pl.Int64,
                                    "share": pl.Float64, "hop_order": pl.Int64, "label": pl.Utf8,
                                    "count_label": pl.Utf8})
    hop_order = {h: i for i, h in enumerate(HOPS)}
    out_order = {o: i for i, o in enumerate(OUTCOMES)}
    data = (outcomes.group_by("stuck_at", "outcome").agg(pl.len().cast(pl.Int64).alias("recipients"))
            .with_columns((pl.col("recipients") / total).round(4).alias("share"),
                          pl.col("stuck_at").replace_strict(hop_order, default=len(HOPS), return_dtype=pl.Int64)
                          .alias("hop_order"),
                          pl.col("outcome").replace_strict(out_order, default=len(OUTCOMES), return_dtype=pl.Int64)
                          .alias("_o"))
            .sort(["hop_order", "recipients", "_o"], descending=[False, True, False]).drop("_o"))
    labels = [label_outcome(o, h) for o, h in data.select("outcome", "stuck_at").iter_rows()]
    return data.with_columns(pl.Series("label", labels, dtype=pl.Utf8),
                             pl.format("{} ({}%)", pl.col("recipients"), (pl.col("recipients") / total * 100).round(1))
                             .alias("count_label"))


def outcome_breakdown_chart(outcomes: pl.DataFrame) -> alt.LayerChart:
    """Recipients per outcome, grouped and coloured by the hop where the message stopped."""
    data = outcome_breakdown_data(outcomes)
    order = data["label"].to_list()
    y = alt.Y("label:N", sort=order, title=None)
    base = alt.Chart(data)
    bars = base.mark_bar().encode(
        y=y, x=alt.X("recipients:Q", title="recipients"),
        color=alt.Color("stuck_at:N", title="stopped at", scale=alt.Scale(domain=HOPS, range=HOP_COLORS)),
        tooltip=["label:N", "stuck_at:N", "recipients:Q", alt.Tooltip("share:Q", format=".1%")])
    text = base.mark_text(align="left", dx=4).encode(y=y, x="recipients:Q", text="count_label:N")
    return alt.layer(bars, text).properties(width=WIDTH, title="where each message stopped")


# -- latency -----------------------------------------------------------------------------------
def _bin_edges(k: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    return (pl.lit(10.0).pow(k / BINS_PER_DECADE), pl.lit(10.0).pow((k + 1) / BINS_PER_DECADE))


def latency_bins(latency: pl.DataFrame, transitions: list[str] | None = None) -> pl.DataFrame:
    """Histogram of seconds per transition on a log scale (BINS_PER_DECADE bins per power of ten from
    FLOOR_SECONDS). Delays shorter than the floor, zero or negative (clock skew, clicks before delivery)
    count in the first bin; `below_floor` says how many did."""
    df = latency.select("transition_order", "transition", "seconds").drop_nulls("seconds")
    if transitions is not None:
        df = df.filter(pl.col("transition").is_in(transitions))
    floor_k = round(math.log10(FLOOR_SECONDS) * BINS_PER_DECADE)
    k = (pl.col("seconds").clip(lower_bound=FLOOR_SECONDS).log10() * BINS_PER_DECADE + 1e-9).floor().cast(pl.Int64)
    lo, hi = _bin_edges(pl.col("k"))
    return (df.with_columns(k.clip(lower_bound=floor_k).alias("k"),
                            (pl.col("seconds") < FLOOR_SECONDS).alias("below"))
            .group_by("transition_order", "transition", "k")
            .agg(pl.len().cast(pl.Int64).alias("recipients"), pl.col("below").sum().cast(pl.Int64).alias("below_floor"))
            .with_columns(lo.alias("bin_lo"), hi.alias("bin_hi"))
            .sort("transition_order", "k"))


def latency_percentiles(latency: pl.DataFrame, transitions: list[str] | None = None) -> pl.DataFrame:
    """p50/p90/p99 seconds per transition (linear interpolation), with n and a label such as 'p90 4.2 min'."""
    df = latency.select("transition_order", "transition", "seconds").drop_nulls("seconds")
    if transitions is not None:
        df = df.filter(pl.col("transition").is_in(transitions))
    stats = df.group_by("transition_order", "transition").agg(
        pl.len().cast(pl.Int64).alias("n"),
        *[pl.col("seconds").quantile(q, interpolation="linear").alias(p) for p, q in PERCENTILES.items()])
    long = stats.unpivot(index=["transition_order", "transition", "n"], on=list(PERCENTILES),
                         variable_name="percentile", value_name="seconds")
    labels = [f"{p} {format_duration(s)}" for p, s in long.select("percentile", "seconds").iter_rows()]
    return (long.with_columns(pl.Series("label", labels, dtype=pl.Utf8),
                              pl.col("percentile").replace_strict({p: i for i, p in enumerate(PERCENTILES)},
                                                                  return_dtype=pl.Int64).alias("p_order"))
            .sort("transition_order", "p_order"))


def _unit_for(seconds: float, unit: str) -> str:
    if unit != "auto":
        return unit
    for name, limit in (("seconds", 120), ("minutes", 7200), ("hours", 172800)):
        if seconds < limit:
            return name
    return "days"


def _log_x(unit: str, field: str, lo: float, hi: float) -> alt.X:
    div = UNITS[unit]
    return alt.X(f"{field}:Q", title=f"{unit} (log scale)",
                 scale=alt.Scale(type="log", domain=[lo / div, hi / div], nice=False),
                 axis=alt.Axis(format="~g", grid=True))


def _transition_chart(bins: pl.DataFrame, pct: pl.DataFrame, transition: str, unit: str,
                      color: str = "#4c78a8") -> alt.LayerChart:
    n = int(pct["n"][0]) if pct.height else int(bins["recipients"].sum())
    unit = _unit_for(float(pct.filter(pl.col("percentile") == "p50")["seconds"][0]) if pct.height else 1.0, unit)
    div = UNITS[unit]
    lo, hi = float(bins["bin_lo"].min()), float(bins["bin_hi"].max())
    b = bins.with_columns((pl.col("bin_lo") / div).alias("x"), (pl.col("bin_hi") / div).alias("x2"))
    p = pct.with_columns((pl.col("seconds").clip(lower_bound=lo, upper_bound=hi) / div).alias("x"),
                         (pl.col("p_order") * 14 + 4).alias("dy"))
    below = int(bins["below_floor"].sum())
    subtitle = [f"{n} recipient(s)"]
    if below:
        subtitle.append(f"{below} under {format_duration(FLOOR_SECONDS)} (incl. zero/negative) in the first bin")
    bars = alt.Chart(b).mark_rect(color=color, opacity=0.85).encode(
        x=_log_x(unit, "x", lo, hi), x2="x2:Q",
        y=alt.Y("recipients:Q", title="recipients",
                scale=alt.Scale(domain=[0, max(1.0, float(bins["recipients"].max()) * 1.1)], nice=True)),
        tooltip=[alt.Tooltip("bin_lo:Q", title="from (s)", format=".3g"),
                 alt.Tooltip("bin_hi:Q", title="to (s)", format=".3g"), "recipients:Q"])
    pscale = alt.Scale(domain=list(PERCENTILES), range=PERCENTILE_COLORS)
    pcolor = alt.Color("percentile:N", title="percentile", scale=pscale, legend=None)
    rules = alt.Chart(p).mark_rule(strokeDash=[4, 3], strokeWidth=1.5).encode(
        x="x:Q", color=pcolor, tooltip=["percentile:N", "label:N", alt.Tooltip("seconds:Q", format=".4g")])
    # the labels sit in a column right of the plot, so close percentiles do not overlap
    labels = alt.Chart(p).mark_text(align="left", baseline="top").encode(
        x=alt.value(WIDTH + 10), y=alt.Y("dy:Q", scale=None, axis=None), text="label:N", color=pcolor)
    # the labels' pixel offsets must not join the bars' count scale, or the tallest bars are cut off
    return alt.layer(bars, rules, labels).resolve_scale(y="independent").properties(
        width=WIDTH, height=110,
        title=alt.TitleParams(TRANSITION_LABELS.get(transition, transition), subtitle=subtitle, anchor="start"))


def latency_chart(latency: pl.DataFrame, unit: str = "auto",
                  transitions: list[str] | None = None) -> alt.VConcatChart | None:
    """Distribution of delay per hop transition: log-binned histogram, p50/p90/p99 as labelled rules.
    `unit`: auto (per transition, from its median) or seconds/minutes/hours/days. None without data."""
    if unit not in LATENCY_UNITS:
        raise ValueError(f"latency unit {unit!r}: use one of {', '.join(LATENCY_UNITS)}")
    wanted = transitions or MAIL_TRANSITIONS
    bins = latency_bins(latency, wanted)
    pct = latency_percentiles(latency, wanted)
    present = [t for t in wanted if t in set(bins["transition"].to_list())]
    if not present:
        return None
    parts = [_transition_chart(bins.filter(pl.col("transition") == t), pct.filter(pl.col("transition") == t), t, unit)
             for t in present]
    return alt.vconcat(*parts, spacing=18).resolve_scale(color="shared")


def interaction_timing_data(latency: pl.DataFrame) -> pl.DataFrame:
    """Log-binned delay from delivery to the first interaction, a person's and automated apart."""
    bins = latency_bins(latency, list(INTERACTION_TRANSITIONS))
    return bins.with_columns(pl.col("transition").replace_strict(INTERACTION_TRANSITIONS, return_dtype=pl.Utf8)
                             .alias("who"))


def interaction_timing_chart(latency: pl.DataFrame, scanner_seconds: int = 60,
                             unit: str = "auto") -> alt.LayerChart | None:
    """Time to the first interaction by a person against automated ones (link scanners), with the
    scanner threshold and each group's median marked. None without interactions."""
    data = interaction_timing_data(latency)
    if not data.height:
        return None
    pct = latency_percentiles(latency, list(INTERACTION_TRANSITIONS)).filter(pl.col("percentile") == "p50")
    unit = _unit_for(float(pct["seconds"].min()), unit) if pct.height else "seconds"
    div = UNITS[unit]
    lo = FLOOR_SECONDS
    hi = max(float(data["bin_hi"].max()), scanner_seconds * 10.0)
    who = alt.Color("who:N", title="first interaction by",
                    scale=alt.Scale(domain=list(INTERACTION_TRANSITIONS.values()), range=["#2ca02c", "#d62728"]))
    d = data.with_columns((pl.col("bin_lo") / div).alias("x"), (pl.col("bin_hi") / div).alias("x2"))
    bars = alt.Chart(d).mark_rect(opacity=0.6).encode(
        x=_log_x(unit, "x", lo, hi), x2="x2:Q", y=alt.Y("recipients:Q", title="recipients", stack=None),
        color=who, tooltip=["who:N", "recipients:Q", alt.Tooltip("bin_lo:Q", title="from (s)", format=".3g")])
    marks = pl.DataFrame({"x": [scanner_seconds / div],
                          "label": [f"scanner threshold {format_duration(scanner_seconds)}"]})
    thr = alt.Chart(marks).mark_rule(color="#555555", strokeDash=[2, 2]).encode(x="x:Q")
    thr_text = alt.Chart(marks).mark_text(align="left", dx=3, dy=2, baseline="top", color="#555555").encode(
        x="x:Q", y=alt.value(0), text="label:N")
    med = pct.with_columns(
        (pl.col("seconds").clip(lower_bound=lo) / div).alias("x"),
        pl.col("transition").replace_strict(INTERACTION_TRANSITIONS, return_dtype=pl.Utf8).alias("who"),
        pl.format("median {}", pl.col("label").str.replace("^p50 ", "")).alias("text"),
        (pl.int_range(pl.len()) * 12 + 16).alias("dy"))
    med_rules = alt.Chart(med).mark_rule(strokeWidth=2).encode(x="x:Q", color=who)
    med_text = alt.Chart(med).mark_text(align="left", dx=3, baseline="top").encode(
        x="x:Q", y=alt.Y("dy:Q", scale=None), text="text:N", color=who)
    return alt.layer(bars, thr, thr_text, med_rules, med_text).properties(
        width=WIDTH, height=160, title="time from delivery to the first interaction")


# -- coverage ----------------------------------------------------------------------------------
def coverage_data(coverage: pl.DataFrame) -> pl.DataFrame:
    """One row per loaded source (and per hop with nothing loaded), with its window as ISO strings."""
    if not coverage.height:
        return pl.DataFrame(schema={"row": pl.Utf8, "hop": pl.Utf8, "hop_order": pl.Int64, "loaded": pl.Boolean,
                                    "start": pl.Utf8, "end": pl.Utf8, "note": pl.Utf8})
    df = coverage.with_columns(
        pl.when(pl.col("loaded")).then(pl.format("{}: {}", pl.col("hop"), pl.col("source_format")))
        .otherwise(pl.format("{}: nothing loaded", pl.col("hop"))).alias("row"),
        pl.col("hop_order").cast(pl.Int64),
        pl.coalesce(_iso("window_start"), _iso("first_sent")).alias("start"),
        pl.coalesce(_iso("window_end"), _iso("window_start"), _iso("first_sent")).alias("end"),
        pl.coalesce(pl.col("window_note"),
                    pl.when(pl.col("loaded")).then(pl.lit("")).otherwise(pl.lit("not loaded"))).alias("note"))
    return df.select("row", "hop", "hop_order", "loaded", "start", "end", "note").sort("hop_order", "row")


def coverage_chart(coverage: pl.DataFrame) -> alt.LayerChart | None:
    """Time window each loaded source covers, per hop, over the campaign's send window (grey band)."""
    data = coverage_data(coverage)
    if not data.height:
        return None
    order = data["row"].to_list()
    y = alt.Y("row:N", sort=order, title=None)
    first, last = coverage["first_sent"].min(), coverage["last_sent"].max()
    layers = []
    if first is not None and last is not None:
        band = pl.DataFrame({"start": [first], "end": [last]}).select(_iso("start"), _iso("end"))
        layers.append(alt.Chart(band).mark_rect(color="#dddddd").encode(
            x=alt.X("start:T", scale=alt.Scale(type="utc"), title="time (UTC); grey: messages sent",
                    axis=alt.Axis(format="%b %d %H:%M", labelAngle=-30)),
            x2="end:T"))
    loaded = data.filter(pl.col("loaded"))
    missing = data.filter(~pl.col("loaded") & pl.col("start").is_not_null())
    x = alt.X("start:T", scale=alt.Scale(type="utc"), title="time (UTC); grey: messages sent",
              axis=alt.Axis(format="%b %d %H:%M", labelAngle=-30))
    layers.append(alt.Chart(loaded).mark_bar(height=12).encode(
        y=y, x=x, x2="end:T",
        color=alt.Color("hop:N", scale=alt.Scale(domain=HOPS, range=HOP_COLORS), legend=None),
        tooltip=["row:N", alt.Tooltip("start:T", format="%Y-%m-%d %H:%M"),
                 alt.Tooltip("end:T", format="%Y-%m-%d %H:%M"), "note:N"]))
    if missing.height:
        layers.append(alt.Chart(missing).mark_text(align="left", color="#b03a2e").encode(
            y=y, x=x, text="note:N"))
    return alt.layer(*layers).properties(width=WIDTH, title="which hops have logs for which time")


# -- one recipient -----------------------------------------------------------------------------
TIMELINE_ROWS = ["platform", "filter", "server", "mailbox", "interaction"]
MAX_TIMELINE_PANELS = 6


def timeline_data(trace: pl.DataFrame, max_events: int = 400) -> pl.DataFrame:
    """Events of one recipient's trace (Workspace.trace) that carry a time, in time order, numbered per
    campaign run (`step`); events matched to no message form their own group."""
    df = trace.drop_nulls("event_ts").sort("event_ts", "hop_order").head(max_events)
    df = df.with_columns(
        pl.when(pl.col("campaign").is_null()).then(pl.lit("not matched to a message"))
        .otherwise(pl.format("{} / {}", pl.col("campaign"), pl.coalesce(pl.col("run"), pl.lit(""))))
        .alias("group"))
    return df.select(
        "group", (pl.int_range(pl.len()).over("group") + 1).cast(pl.Int64).alias("step"),
        _iso("event_ts").alias("ts"), pl.col("event_ts").dt.convert_time_zone("UTC").dt.strftime("%m-%d %H:%M:%S")
        .alias("time"), "hop", "action",
        pl.col("source_format"), pl.col("source_row"),
        pl.coalesce(pl.col("raw_status"), pl.lit("")).alias("raw_status"),
        pl.when(pl.col("matched")).then(pl.lit("matched")).otherwise(pl.lit("not matched")).alias("matched"))


def _timeline_panel(data: pl.DataFrame, group: str) -> alt.LayerChart:
    y = alt.Y("hop:N", sort=TIMELINE_ROWS, title=None, scale=alt.Scale(domain=TIMELINE_ROWS))
    x = alt.X("step:O", title="events in time order (UTC time below each)", axis=alt.Axis(labels=False, ticks=False))
    base = alt.Chart(data)
    line = base.mark_line(color="#bbbbbb").encode(x=x, y=y)
    points = base.mark_point(filled=True, size=80).encode(
        x=x, y=y, color=alt.Color("hop:N", scale=alt.Scale(domain=TIMELINE_ROWS, range=HOP_COLORS), legend=None),
        shape=alt.Shape("matched:N", title=None, scale=alt.Scale(domain=["matched", "not matched"],
                                                                 range=["circle", "cross"])),
        tooltip=["time:N", "hop:N", "action:N", "raw_status:N", "source_format:N", "source_row:Q", "matched:N"])
    action = base.mark_text(dy=-11, fontSize=10).encode(x=x, y=y, text="action:N")
    time = base.mark_text(dy=12, fontSize=9, color="#555555").encode(x=x, y=y, text="time:N")
    step = max(70, min(110, WIDTH // max(1, data.height)))
    return alt.layer(line, points, action, time).properties(
        width=alt.Step(step), height=190, title=alt.TitleParams(group, anchor="start"))


def timeline_chart(trace: pl.DataFrame) -> alt.VConcatChart | None:
    """One recipient's events across hops, one panel per campaign run (in time order within it): platform,
    filter, server, mailbox and interactions, with the time under each event."""
    data = timeline_data(trace)
    if not data.height:
        return None
    groups = data.group_by("group", maintain_order=True).agg(pl.col("ts").min()).sort("ts")["group"].to_list()
    panels = [_timeline_panel(data.filter(pl.col("group") == g), g) for g in groups[:MAX_TIMELINE_PANELS]]
    return alt.vconcat(*panels, spacing=20).properties(title="timeline across hops")
