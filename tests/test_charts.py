"""Charts (phishtrace/charts.py) on known data: what each chart encodes, its sort orders, the percentile
marks, and that charts embed aggregates rather than one row per recipient."""

from __future__ import annotations

import statistics
from datetime import datetime, timedelta, timezone
from xml.etree import ElementTree

import polars as pl
import pytest

from phishtrace import charts

UTC = timezone.utc
T0 = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)


def outcome_rows(spec: list[tuple[str, str, bool, int]]) -> pl.DataFrame:
    """Outcome rows from (outcome, stuck_at, sent, count)."""
    rows = []
    for outcome, stuck, sent, n in spec:
        for i in range(n):
            rows.append({"recipient": f"{outcome}-{stuck}-{i}@x.example", "outcome": outcome, "stuck_at": stuck,
                         "sent_at": T0 if sent else None, "automated_interactions": 0})
    return pl.DataFrame(rows, schema_overrides={"sent_at": pl.Datetime("us", "UTC")})


OUTCOMES = outcome_rows([
    ("held_bounced_learner", "platform", False, 2),
    ("bounced", "filter", True, 3),
    ("filter_quarantined", "filter", True, 4),
    ("bounced", "server", True, 1),
    ("server_junked", "server", True, 2),
    ("unverified", "server", True, 1),
    ("moved_by_rule", "mailbox", True, 1),
    ("delivered", "none", True, 5),
    ("interacted", "none", True, 6),
])
# what fct_campaign_funnel says for the same recipients (two runs, summed by the chart)
FUNNEL = pl.DataFrame({"campaign": ["C", "C"], "run": ["Run 1", "Run 2"], "targeted": [20, 5], "sent": [18, 5],
                       "passed_filter": [11, 5], "accepted_by_server": [10, 5], "in_inbox": [6, 5],
                       "human_interaction": [3, 3]})


def datasets(spec: dict) -> dict[str, list]:
    return spec.get("datasets", {})


def embedded_rows(chart) -> int:
    return sum(len(v) for v in datasets(chart.to_dict()).values())


def dataset_of(spec: dict, layer: dict) -> list[dict]:
    return spec["datasets"][layer["data"]["name"]]


# -- funnel --------------------------------------------------------------------------------------
def test_funnel_data_counts_rates_and_drops():
    data = charts.funnel_data(FUNNEL, OUTCOMES)
    assert data["stage"].to_list() == charts.STAGES
    assert data["recipients"].to_list() == [25, 23, 16, 15, 11, 6]
    assert data["rate"].to_list() == [1.0, 0.92, 0.64, 0.6, 0.44, 0.24]
    assert data["dropped"].to_list() == [0, 2, 7, 1, 4, 5]
    lost = dict(zip(data["stage"], data["lost_to"]))
    assert lost["sent"] == "held: learner flagged bounced 2"
    assert lost["passed filter"] == "quarantined by the filter 4, bounced (at filter) 3"
    assert lost["accepted by server"] == "bounced (at server) 1"
    # junked 2 before moved 1 and unverified 1 (largest first, then by name)
    assert lost["in inbox"] == "junked by the server 2, moved by a rule 1, unverified (at server) 1"
    assert lost["human interaction"] == "in the inbox 5"


def test_drop_stage_agrees_with_the_funnel_rules():
    # every outcome group from OUTCOMES lands at the stage its funnel flags say (counts add up)
    stages = charts.drop_stage(OUTCOMES)
    counts = stages.group_by("dropped_at").len()
    got = dict(zip(counts["dropped_at"].to_list(), counts["len"].to_list()))
    assert got == {"sent": 2, "passed filter": 7, "accepted by server": 1, "in inbox": 4,
                   "human interaction": 5, None: 6}


def test_funnel_chart_encodings_and_order():
    spec = charts.funnel_chart(FUNNEL, OUTCOMES).to_dict()
    bars, counts = spec["hconcat"][0]["layer"]
    assert bars["mark"]["type"] == "bar"
    assert bars["encoding"]["y"] == {"field": "stage", "type": "nominal", "sort": charts.STAGES, "title": None}
    assert bars["encoding"]["x"]["field"] == "recipients"
    assert counts["encoding"]["text"]["field"] == "count_label"
    lost, why = spec["hconcat"][1]["layer"]
    assert lost["encoding"]["text"]["field"] == "dropped_label"
    assert why["encoding"]["text"]["field"] == "lost_to"
    (data,) = spec["datasets"].values()  # one aggregated dataset of six stages, shared by every layer
    rows = {r["stage"]: r for r in data}
    assert len(rows) == 6
    assert rows["passed filter"]["count_label"] == "16 (64.0%)"
    assert rows["in inbox"]["dropped_label"] == "−4"


# -- outcome breakdown ---------------------------------------------------------------------------
def test_outcome_breakdown_sorted_by_hop_then_size():
    data = charts.outcome_breakdown_data(OUTCOMES)
    assert data.select("stuck_at", "outcome", "recipients").rows() == [
        ("platform", "held_bounced_learner", 2),
        ("filter", "filter_quarantined", 4), ("filter", "bounced", 3),
        ("server", "server_junked", 2), ("server", "bounced", 1), ("server", "unverified", 1),
        ("mailbox", "moved_by_rule", 1),
        ("none", "interacted", 6), ("none", "delivered", 5),
    ]
    spec = charts.outcome_breakdown_chart(OUTCOMES).to_dict()
    bars = spec["layer"][0]
    assert bars["encoding"]["y"]["sort"] == data["label"].to_list()
    assert bars["encoding"]["y"]["sort"][1:3] == ["quarantined by the filter", "bounced (at filter)"]
    assert bars["encoding"]["color"]["field"] == "stuck_at"
    assert bars["encoding"]["color"]["scale"]["domain"] == charts.HOPS
    assert bars["encoding"]["x"]["field"] == "recipients"
    share = {r["label"]: r["share"] for r in next(iter(spec["datasets"].values()))}
    assert share["in the inbox, a person interacted"] == round(6 / 25, 4)


# -- latency -------------------------------------------------------------------------------------
def latency_rows(transition: str, values: list[float], order: int = 2) -> pl.DataFrame:
    return pl.DataFrame({"transition_order": [order] * len(values), "transition": [transition] * len(values),
                         "seconds": values}, schema_overrides={"transition_order": pl.Int32, "seconds": pl.Float64})


def test_latency_percentiles_match_linear_interpolation():
    values = [float(v) for v in range(1, 101)] + [3600.0 * 5]
    pct = charts.latency_percentiles(latency_rows("sent_to_filter", values))
    expected = statistics.quantiles(values, n=100, method="inclusive")
    got = dict(zip(pct["percentile"], pct["seconds"]))
    assert got["p50"] == pytest.approx(expected[49])
    assert got["p90"] == pytest.approx(expected[89])
    assert got["p99"] == pytest.approx(expected[98])
    assert pct["n"].to_list() == [101, 101, 101]
    assert pct["label"][0] == f"p50 {charts.format_duration(expected[49])}"


def test_latency_bins_log_scale_and_floor():
    values = [-3.0, 0.0, 0.05, 1.0, 1.5, 2.0, 59.0, 61.0, 86400.0]
    bins = charts.latency_bins(latency_rows("server_to_mailbox", values, 4))
    assert int(bins["recipients"].sum()) == len(values)
    assert int(bins["below_floor"].sum()) == 3  # -3, 0 and 0.05 s
    first = bins.row(0, named=True)
    assert first["bin_lo"] == pytest.approx(charts.FLOOR_SECONDS) and first["recipients"] == 3
    # each value falls inside its bin; bins are a quarter of a decade wide
    for v in [1.0, 1.5, 2.0, 59.0, 61.0, 86400.0]:
        hit = bins.filter((pl.col("bin_lo") <= v + 1e-9) & (pl.col("bin_hi") > v))
        assert hit.height == 1, v
        assert hit["bin_hi"][0] / hit["bin_lo"][0] == pytest.approx(10 ** 0.25)
    assert bins.filter((pl.col("bin_lo") - 1.0).abs() < 1e-9)["recipients"][0] == 2  # 1.0 and 1.5: [1, 1.78)


def test_latency_chart_marks_percentiles_on_a_log_axis():
    values = [float(v) for v in range(1, 201)]
    lat = pl.concat([latency_rows("sent_to_filter", values, 2),
                     latency_rows("sent_to_delivered", [v * 60 for v in values], 5)])
    spec = charts.latency_chart(lat).to_dict()
    panels = spec["vconcat"]
    assert [p["title"]["text"] for p in panels] == [charts.TRANSITION_LABELS["sent_to_filter"],
                                                   charts.TRANSITION_LABELS["sent_to_delivered"]]
    bars, rules, labels = panels[0]["layer"]
    assert bars["mark"]["type"] == "rect"
    assert bars["encoding"]["x"]["scale"]["type"] == "log"
    assert bars["encoding"]["x"]["title"] == "seconds (log scale)"
    assert rules["mark"]["type"] == "rule" and rules["encoding"]["x"]["field"] == "x"
    marks = dataset_of(spec, rules)
    expected = statistics.quantiles(values, n=100, method="inclusive")
    assert [m["percentile"] for m in marks] == ["p50", "p90", "p99"]
    assert [m["x"] for m in marks] == pytest.approx([expected[49], expected[89], expected[98]])
    assert labels["encoding"]["text"]["field"] == "label"
    assert [m["label"] for m in dataset_of(spec, labels)] == [f"{p} {charts.format_duration(s)}" for p, s in
                                                            zip(["p50", "p90", "p99"],
                                                                [expected[49], expected[89], expected[98]])]
    # end to end in minutes for the second panel (auto unit from its median of ~100 min)
    assert panels[1]["layer"][0]["encoding"]["x"]["title"] == "minutes (log scale)"
    assert dataset_of(spec, panels[1]["layer"][1])[0]["x"] == pytest.approx(expected[49])


def test_latency_chart_fixed_unit_and_empty():
    lat = latency_rows("sent_to_filter", [30.0, 90.0, 150.0])
    spec = charts.latency_chart(lat, unit="minutes").to_dict()
    bars, rules, _ = spec["vconcat"][0]["layer"]
    assert bars["encoding"]["x"]["title"] == "minutes (log scale)"
    assert dataset_of(spec, rules)[0]["x"] == pytest.approx(90.0 / 60)
    assert charts.latency_chart(lat.head(0)) is None
    with pytest.raises(ValueError):
        charts.latency_chart(lat, unit="weeks")


def test_interaction_timing_chart_threshold_and_groups():
    lat = pl.concat([latency_rows("delivered_to_first_human", [600.0, 3600.0, 7200.0], 6),
                     latency_rows("delivered_to_first_automated", [-5.0, 3.0, 8.0, 12.0], 7)])
    data = charts.interaction_timing_data(lat)
    by_who = data.group_by("who").agg(pl.col("recipients").sum())
    assert dict(by_who.rows()) == {"a person": 3, "automated (scanner)": 4}
    spec = charts.interaction_timing_chart(lat, scanner_seconds=45).to_dict()
    bars, thr, thr_text, med_rules, _ = spec["layer"]
    assert bars["encoding"]["color"]["field"] == "who"
    assert bars["encoding"]["y"]["stack"] is None
    assert dataset_of(spec, thr)[0]["x"] == 45.0  # unit seconds: the automated median is 5.5 s
    assert dataset_of(spec, thr_text)[0]["label"] == "scanner threshold 45 s"
    medians = {m["who"]: m["seconds"] for m in dataset_of(spec, med_rules)}
    assert medians == {"a person": pytest.approx(3600.0), "automated (scanner)": pytest.approx(5.5)}
    assert charts.interaction_timing_chart(lat.head(0)) is None


# -- coverage and timeline -----------------------------------------------------------------------
def test_coverage_chart_rows_in_hop_order_with_gaps_named():
    cov = pl.DataFrame({
        "hop": ["server", "filter", "platform", "mailbox"], "hop_order": [2, 1, 0, 3],
        "source_format": ["m365_message_trace", None, "phishsim_csv", "defender_email_events"],
        "loaded": [True, False, True, True],
        "window_start": [T0, None, T0, T0 + timedelta(hours=2)],
        "window_end": [T0 + timedelta(days=1), None, T0 + timedelta(hours=1), T0 + timedelta(hours=3)],
        "window_note": ["covers every send time", None, None, "starts after the first message was sent"],
        "first_sent": [T0] * 4, "last_sent": [T0 + timedelta(hours=1)] * 4,
    }, schema_overrides={"window_start": pl.Datetime("us", "UTC"), "window_end": pl.Datetime("us", "UTC")})
    data = charts.coverage_data(cov)
    assert data["row"].to_list() == ["platform: phishsim_csv", "filter: nothing loaded",
                                     "server: m365_message_trace", "mailbox: defender_email_events"]
    assert data.filter(pl.col("hop") == "server")["end"][0] == "2025-06-03T09:00:00.000Z"
    spec = charts.coverage_chart(cov).to_dict()
    band, bars, missing = spec["layer"]
    assert dataset_of(spec, band) == [{"start": "2025-06-02T09:00:00.000Z", "end": "2025-06-02T10:00:00.000Z"}]
    assert bars["encoding"]["y"]["sort"] == data["row"].to_list()
    assert bars["encoding"]["x2"]["field"] == "end"
    assert [r["note"] for r in dataset_of(spec, missing)] == ["not loaded"]


def test_timeline_chart_panels_per_run_in_time_order():
    trace = pl.DataFrame({
        "campaign": ["C", "C", "C", None, "C"], "run": ["Run 1", "Run 1", "Run 1", None, "Run 2"],
        "hop": ["server", "platform", "mailbox", "server", "platform"],
        "hop_order": [2, 0, 3, 2, 0],
        "event_ts": [T0 + timedelta(seconds=5), T0, T0 + timedelta(seconds=9), T0 + timedelta(hours=1),
                     T0 + timedelta(days=3)],
        "action": ["delivered", "sent", "junked", "delivered", "sent"], "source_format": ["t", "p", "d", "t", "p"],
        "source_row": [1, 2, 3, 4, 5], "raw_status": ["Delivered", "Sent", "Junk", "Delivered", "Sent"],
        "matched": [True, True, True, False, True],
    }, schema_overrides={"event_ts": pl.Datetime("us", "UTC")})
    data = charts.timeline_data(trace)
    run1 = data.filter(pl.col("group") == "C / Run 1")
    assert run1.select("step", "action").rows() == [(1, "sent"), (2, "delivered"), (3, "junked")]
    spec = charts.timeline_chart(trace).to_dict()
    assert [p["title"]["text"] for p in spec["vconcat"]] == ["C / Run 1", "not matched to a message", "C / Run 2"]
    points = spec["vconcat"][0]["layer"][1]
    assert points["encoding"]["y"]["sort"] == charts.TIMELINE_ROWS
    assert points["encoding"]["x"]["field"] == "step"
    assert points["encoding"]["shape"]["scale"]["domain"] == ["matched", "not matched"]


# -- size and safety -----------------------------------------------------------------------------
def test_charts_embed_aggregates_not_recipients():
    n = 200_000
    big = pl.DataFrame({
        "recipient": [f"u{i}@big.example" for i in range(n)],
        "outcome": ["delivered", "bounced", "filter_quarantined", "interacted"] * (n // 4),
        "stuck_at": ["none", "filter", "filter", "none"] * (n // 4),
        "sent_at": [T0] * n, "automated_interactions": [0] * n,
    }, schema_overrides={"sent_at": pl.Datetime("us", "UTC")})
    funnel = pl.DataFrame({c: [n] for c in charts.STAGE_COLUMNS})
    lat = latency_rows("sent_to_filter", [float(1 + (i % 5000)) for i in range(n)])
    for chart in (charts.funnel_chart(funnel, big), charts.outcome_breakdown_chart(big), charts.latency_chart(lat)):
        assert embedded_rows(chart) < 200
    assert not any("@big.example" in str(v) for v in datasets(charts.outcome_breakdown_chart(big).to_dict()).values())


def test_svg_escapes_log_text():
    hostile = "<img src=x onerror=alert(1)>"
    out = outcome_rows([("bounced", "filter", True, 2)]).with_columns(pl.lit(hostile).alias("stuck_at"))
    svg = charts.to_svg(charts.outcome_breakdown_chart(out))
    assert "&lt;img src=x onerror=alert(1)&gt;" in svg
    root = ElementTree.fromstring(svg)  # well-formed: the text did not break out of its element
    elements = list(root.iter())
    assert not [e.tag for e in elements if e.tag.rsplit("}", 1)[-1] in ("img", "script", "foreignObject")]
    assert not [a for e in elements for a in e.attrib if a.lower().startswith("on")]
    texts = ["".join(e.itertext()) for e in elements if e.tag.endswith("text")]
    assert f"bounced (at {hostile})" in texts or any(t.startswith("bounced (at <img src=x") for t in texts)


def test_format_duration():
    assert charts.format_duration(12) == "12 s"
    assert charts.format_duration(0.25) == "0.25 s"
    assert charts.format_duration(90) == "1.5 min"
    assert charts.format_duration(7200) == "2 h"
    assert charts.format_duration(3 * 86400 + 43200) == "3.5 d"
    assert charts.format_duration(-30) == "-30 s"
    assert charts.format_duration(None) == "n/a"
