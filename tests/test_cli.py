"""The command line: one-line errors and exit codes, output formats, python -m."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

from phishtrace.cli import main
from report_support import PHISHSIM_HEADER, delivered_trace

EXPORT = ("Campaign,Campaign Run,Run Start,Run End,First Name,Last Name,Email,Status,Scheduled At,Sent At,"
          "Delivered At,Opened At,Phished At,Replied At,Entered Data At,Reported At,Bounced At,Bounce Reason,"
          "Sender,Subject,Message ID\n"
          "Q4,Run 1,2026-11-02T09:00:00Z,,A,B,a@example.com,Sent,,2026-11-02T09:01:00Z,,,,,,,,,it@sim.example,"
          "=HYPERLINK(\"x\"),\n")


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def db_copy(_template_db, tmp_path):
    path = tmp_path / "cli.duckdb"
    shutil.copyfile(_template_db, path)
    return str(path)


def test_ingest_then_outcomes_csv_and_json(_template_db, tmp_path):
    db = db_copy(_template_db, tmp_path)
    p = tmp_path / "e.csv"
    p.write_text(EXPORT, encoding="utf-8")
    r = run("ingest", "--db", db, "--customer", "acme", str(p))
    assert r.exit_code == 0, r.output
    assert "loaded as phishsim_csv (platform), 1 rows" in r.output
    r = run("ingest", "--db", db, "--customer", "acme", str(p))
    assert "unchanged" in r.output
    r = run("outcomes", "--db", db, "--customer", "acme", "--format", "csv")
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(io.StringIO(r.output)))
    assert list(rows[0])[:11] == ["customer", "campaign", "run", "recipient", "outcome", "stuck_at",
                                  "evidence_source", "evidence_ts", "evidence_detail", "match_method", "next_step"]
    assert rows[0]["recipient"] == "a@example.com"
    assert rows[0]["outcome"] == "unverified" and rows[0]["stuck_at"] == "platform"
    assert "Load mail server logs" in rows[0]["next_step"]
    r = run("outcomes", "--db", db, "--customer", "acme", "--format", "json", "--all-columns")
    data = json.loads(r.output)
    assert data[0]["subject"] == '=HYPERLINK("x")'  # JSON keeps values as they are
    r = run("outcomes", "--db", db, "--customer", "acme", "--format", "csv", "--all-columns")
    assert "'=HYPERLINK" in r.output  # CSV neutralises formula cells


def test_bad_file_gives_one_line_error_and_exit_code(_template_db, tmp_path):
    db = db_copy(_template_db, tmp_path)
    p = tmp_path / "broken.csv"
    p.write_text(EXPORT.replace("2026-11-02T09:01:00Z", "not a time"), encoding="utf-8")
    r = CliRunner().invoke(main, ["ingest", "--db", db, "--customer", "acme", str(p)])
    assert r.exit_code == 2
    lines = [l for l in r.output.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and f"{p}:2:" in lines[0]
    assert "Traceback" not in r.output


def test_python_dash_m_and_sources(tmp_path):
    out = subprocess.run([sys.executable, "-m", "phishtrace", "sources", "--db", ":memory:", "--format", "csv"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    names = {row["format"] for row in csv.DictReader(io.StringIO(out.stdout))}
    assert {"phishsim_csv", "phishsim_learners_csv", "m365_message_trace", "proofpoint_pod_json",
            "defender_email_events", "defender_post_delivery"} <= names
    bad = subprocess.run([sys.executable, "-m", "phishtrace", "ingest", "--db", str(tmp_path / "x.duckdb"),
                          "--customer", "c", str(tmp_path / "missing.csv")], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and "no such file" in bad.stderr


def test_sql_with_parameters(_template_db, tmp_path):
    db = db_copy(_template_db, tmp_path)
    r = run("sql", "--db", db, "SELECT ? AS a, ?::INT + 1 AS b", "--param", "x", "--param", "41", "--format", "csv")
    assert r.output.splitlines() == ["a,b", "x,42"]
    r = CliRunner().invoke(main, ["sql", "--db", db, "SELECT * FROM nope"])
    assert r.exit_code == 2 and "SQL error" in r.output


TRUNCATED_POD = ('{"guid":"g1","ts":"2026-11-02T09:01:00.000000-0700","envelope":{"from":"it@sim.example",'
                 '"rcpts":["a@example.com"]},"filter":{"disposition":"continue","qid":"q1"}}\n'
                 '{"guid":"g2","ts":"2026-11-02T09:02:00.000000-0700","envelope":{"from":"it@sim.exa')


def _bad_inputs(tmp_path):
    cases = {
        "empty": (b"", None),
        "truncated_json": (TRUNCATED_POD.encode(), 2),
        "wrong_header": (EXPORT.replace("Campaign Run", "Campaign Round").encode(), 1),
        "bad_timestamp": (EXPORT.replace("2026-11-02T09:01:00Z", "02/30/2026 25:61").encode(), 2),
        "garbage": (bytes(range(256)) * 8, 1),
        "unclaimed": (b"date,what\n2026-11-02,lunch\n", 1),
    }
    out = {}
    for name, (content, line) in cases.items():
        p = tmp_path / f"{name}.dat"
        p.write_bytes(content)
        out[name] = (p, line)
    return out


def test_every_kind_of_bad_input_fails_cleanly_from_the_cli(_template_db, tmp_path):
    import duckdb

    db = db_copy(_template_db, tmp_path)
    good = tmp_path / "good.csv"
    good.write_text(EXPORT, encoding="utf-8")
    assert run("ingest", "--db", db, "--customer", "acme", str(good)).exit_code == 0

    def snapshot():
        con = duckdb.connect(db, read_only=True)
        try:
            return {t: con.execute(f'SELECT * FROM "{t}" ORDER BY ALL').fetchall()
                    for t in ("load_manifest", "load_rejects", "raw_phishsim_csv", "raw_proofpoint_pod_json")}
        finally:
            con.close()

    before = snapshot()
    for name, (path, line) in _bad_inputs(tmp_path).items():
        spec = f"{path}:phishsim_csv" if name == "wrong_header" else str(path)
        r = CliRunner().invoke(main, ["ingest", "--db", db, "--customer", "acme", spec])
        lines = [l for l in r.output.splitlines() if l.strip()]
        assert r.exit_code == 2, (name, r.output)
        assert len(lines) == 1 and lines[0].startswith("error: ") and str(path) in lines[0], (name, r.output)
        if line is not None:
            assert f"{path}:{line}:" in lines[0], (name, lines[0])
        assert snapshot() == before, name


WINDOW_EXPORT = (
    PHISHSIM_HEADER + "\n"
    "C,Run 1,2025-06-17T09:00:00Z,2025-06-19T09:00:00Z,A,B,late@acme-corp.example,Sent,2025-06-17T09:00:00Z,"
    "2025-06-17T10:00:00Z,,,,,,,,,it@sim.example,Notice,\n")
# the server logs the message 3 h after the platform's Sent time, with no Message-ID the platform knows
WINDOW_TRACE = delivered_trace([("2025-06-17T13:00:00Z", "it@sim.example", "late@acme-corp.example", "Notice", 1)])


def _outcome(db, *options):
    r = run("outcomes", "--db", db, "--customer", "acme", "--format", "csv", *options)
    assert r.exit_code == 0, r.output
    (row,) = list(csv.DictReader(io.StringIO(r.output)))
    return row["outcome"], row["match_method"]


def test_matching_window_options_apply_to_one_command_only(_template_db, tmp_path):
    db = db_copy(_template_db, tmp_path)
    (tmp_path / "export.csv").write_text(WINDOW_EXPORT, encoding="utf-8")
    (tmp_path / "trace.csv").write_text(WINDOW_TRACE, encoding="utf-8")
    r = run("ingest", "--db", db, "--customer", "acme", str(tmp_path / "export.csv"), str(tmp_path / "trace.csv"))
    assert r.exit_code == 0, r.output
    assert _outcome(db) == ("delivered", "recipient_window")  # 3 h after Sent: inside the 72 h default
    assert _outcome(db, "--window-hours", "2")[1] == ""  # outside a 2 h window: not matched
    assert _outcome(db) == ("delivered", "recipient_window")  # the next command has the default again
    stored = run("sql", "--db", db, "SELECT value FROM phishtrace_meta WHERE key = 'settings'", "--format", "csv")
    assert "pt_window_hours=None" in stored.output
    r = run("trace", "--db", db, "late@acme-corp.example", "--window-hours", "2", "--format", "csv")
    assert r.exit_code == 0 and "m365_message_trace" in r.output


def test_view_options_reach_the_views(_template_db, tmp_path):
    db = db_copy(_template_db, tmp_path)
    query = ("SELECT pt_var('pt_stall_minutes', 10) AS stall, pt_var('pt_held_hours', 24) AS held, "
             "pt_var('pt_burst_seconds', 10) AS burst_s, pt_var('pt_burst_recipients', 3) AS burst_n, "
             "pt_var('pt_window_before_minutes', 5) AS before")
    r = run("sql", "--db", db, query, "--format", "json", "--stall-minutes", "7", "--held-hours", "2",
            "--burst-seconds", "4", "--burst-recipients", "9", "--window-before-minutes", "1")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output) == [{"stall": 7, "held": 2, "burst_s": 4, "burst_n": 9, "before": 1}]
    r = CliRunner().invoke(main, ["outcomes", "--db", db, "--burst-recipients", "0"])
    assert r.exit_code == 2 and "0 is not in the range x>=1" in r.output
    # and they change what the views decide: a run still Scheduling 15 min after it started
    (tmp_path / "stalled.csv").write_text(
        PHISHSIM_HEADER + "\nC,Run 1,2025-06-17T09:00:00Z,2025-06-19T09:00:00Z,A,B,s@acme-corp.example,Scheduling,"
        ",,,,,,,,,,it@sim.example,Notice,\n", encoding="utf-8")
    assert run("ingest", "--db", db, "--customer", "acme", str(tmp_path / "stalled.csv")).exit_code == 0
    as_of = ["--as-of", "2025-06-17T09:15:00Z"]
    assert _outcome(db, *as_of)[0] == "scheduling_stalled"  # more than 10 min (the default)
    assert _outcome(db, *as_of, "--stall-minutes", "30")[0] != "scheduling_stalled"


def test_a_changed_matching_window_is_kept_by_the_workspace(tmp_path):
    from phishtrace import Workspace

    (tmp_path / "export.csv").write_text(WINDOW_EXPORT, encoding="utf-8")
    (tmp_path / "trace.csv").write_text(WINDOW_TRACE, encoding="utf-8")
    db = str(tmp_path / "w.duckdb")
    with Workspace(db) as ws:
        ws.ingest("acme", [str(tmp_path / "export.csv"), str(tmp_path / "trace.csv")])
        ws.configure(window_hours=2)
        assert ws.outcomes("acme")["match_method"].to_list() == [None]
        with ws.preview(window_hours=4):
            assert ws.outcomes("acme")["match_method"].to_list() == ["recipient_window"]
        assert ws.outcomes("acme")["match_method"].to_list() == [None]
    # a later session starts with the window the models were computed with, read-only too
    for read_only in (True, False):
        with Workspace(db, read_only=read_only) as ws:
            assert ws.sql("SELECT pt_var('pt_window_hours', 72) AS h")["h"][0] == 2
            assert ws.outcomes("acme")["match_method"].to_list() == [None]
    with Workspace(db) as ws:
        ws.configure(window_hours=None)
        assert ws.outcomes("acme")["match_method"].to_list() == ["recipient_window"]


def test_every_command_is_in_the_readme_tour():
    from conftest import ROOT

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    names = [name for name, cmd in main.commands.items() if not getattr(cmd, "hidden", False)]
    names += [f"samples {sub}" for sub in main.commands["samples"].commands]
    assert [n for n in names if f"phishtrace {n} " not in readme] == []


def test_latency_summary_matches_the_per_recipient_rows(_template_db, tmp_path):
    import statistics

    from conftest import SAMPLES

    db = db_copy(_template_db, tmp_path)
    assert run("ingest", "--db", db, "--customer", "acme", *sorted(str(p) for p in (SAMPLES / "acme").iterdir())).exit_code == 0
    rows = list(csv.DictReader(io.StringIO(run("latency", "--db", db, "--format", "csv").output)))
    summary = list(csv.DictReader(io.StringIO(run("latency", "--db", db, "--summary", "--format", "csv").output)))
    assert len(summary) >= 5
    for s in summary:
        values = sorted(float(r["seconds"]) for r in rows
                        if (r["campaign"], r["run"], r["transition"]) == (s["campaign"], s["run"], s["transition"]))
        assert int(s["recipients"]) == len(values)
        assert float(s["mean_seconds"]) == pytest.approx(statistics.fmean(values))
        assert float(s["median_seconds"]) == pytest.approx(statistics.median(values))
        assert float(s["min_seconds"]) == values[0] and float(s["max_seconds"]) == values[-1]
        if len(values) > 1:  # linear interpolation between closest ranks, (n - 1) * q
            p90 = statistics.quantiles(values, n=10, method="inclusive")[8]
            p99 = statistics.quantiles(values, n=100, method="inclusive")[98]
            assert float(s["p90_seconds"]) == pytest.approx(p90)
            assert float(s["p99_seconds"]) == pytest.approx(p99)


OPENS_EXPORT = (
    PHISHSIM_HEADER + "\n"
    # opened two hours after delivery, nothing else (an image-fetching client would look the same)
    "C,Run 1,2025-06-17T09:00:00Z,2025-06-19T09:00:00Z,A,B,opener@acme-corp.example,Opened,2025-06-17T09:00:00Z,"
    "2025-06-17T10:00:00Z,2025-06-17T10:00:30Z,2025-06-17T12:00:00Z,,,,,,,it@sim.example,Notice,\n"
    # opened and clicked
    "C,Run 1,2025-06-17T09:00:00Z,2025-06-19T09:00:00Z,C,D,clicker@acme-corp.example,Phished,2025-06-17T09:00:00Z,"
    "2025-06-17T10:00:00Z,2025-06-17T10:00:30Z,2025-06-17T12:00:00Z,2025-06-17T12:01:00Z,,,,,,it@sim.example,Notice,\n"
    # "opened" 5 s after delivery: a scanner fetching the images
    "C,Run 1,2025-06-17T09:00:00Z,2025-06-19T09:00:00Z,E,F,scanned@acme-corp.example,Opened,2025-06-17T09:00:00Z,"
    "2025-06-17T10:00:00Z,2025-06-17T10:00:30Z,2025-06-17T10:00:35Z,,,,,,,it@sim.example,Notice,\n")


def test_ignore_opens_leaves_opens_out_of_the_interactions(_template_db, tmp_path):
    db = db_copy(_template_db, tmp_path)
    (tmp_path / "export.csv").write_text(OPENS_EXPORT, encoding="utf-8")
    assert run("ingest", "--db", db, "--customer", "acme", str(tmp_path / "export.csv")).exit_code == 0

    def outcomes(*options):
        r = run("outcomes", "--db", db, "--format", "csv", "--all-columns", *options)
        return {row["recipient"]: (row["outcome"], row["first_human_ts"][11:16], row["human_interactions"])
                for row in csv.DictReader(io.StringIO(r.output))}

    assert outcomes() == {"opener@acme-corp.example": ("interacted", "12:00", "1"),
                          "clicker@acme-corp.example": ("interacted", "12:00", "2"),
                          "scanned@acme-corp.example": ("unverified", "", "0")}  # no mail log
    assert outcomes("--ignore-opens") == {"opener@acme-corp.example": ("unverified", "", "0"),
                                          "clicker@acme-corp.example": ("interacted", "12:01", "1"),
                                          "scanned@acme-corp.example": ("unverified", "", "0")}

    def funnel(*options):
        (row,) = csv.DictReader(io.StringIO(run("funnel", "--db", db, "--format", "csv", *options).output))
        return [row[k] for k in ("any_interaction", "automated_interaction", "human_interaction",
                                 "raw_interaction_rate", "human_interaction_rate")]

    assert funnel() == ["3", "1", "2", "1.0", "0.6667"]
    assert funnel("--ignore-opens") == ["1", "0", "1", "0.3333", "0.3333"]  # the scanner's open is gone too


def test_preview_gives_back_the_settings_it_found(tmp_path):
    from datetime import datetime, timezone

    from phishtrace import Workspace
    from phishtrace.errors import PhishtraceError

    with Workspace(str(tmp_path / "p.duckdb")) as ws:
        ws.configure(as_of=datetime(2025, 1, 1, tzinfo=timezone.utc), scanner_seconds=30)
        with ws.preview(as_of=datetime(2025, 6, 1, tzinfo=timezone.utc), held_hours=5):
            got = ws.sql("SELECT getvariable('pt_as_of') AS a, getvariable('pt_held_hours') AS h").row(0)
            assert got[0].month == 6 and got[1] == 5
        got = ws.sql("SELECT getvariable('pt_as_of') AS a, getvariable('pt_held_hours') AS h, "
                     "getvariable('pt_scanner_seconds') AS s").row(0)
        assert got[0].month == 1 and got[1] is None and got[2] == 30
        with pytest.raises(PhishtraceError, match="unknown setting 'nope'"):
            with ws.preview(scanner_seconds=1, nope=3):
                pass
        with pytest.raises(RuntimeError):  # an error inside the block
            with ws.preview(scanner_seconds=1):
                raise RuntimeError
        assert ws.sql("SELECT getvariable('pt_scanner_seconds') AS s")["s"][0] == 30
