"""How long the vendor keeps a source (data/retention.csv) in the coverage view and the next step of a
message whose send time the loaded logs do not cover."""

from __future__ import annotations

from datetime import datetime, timezone

from report_support import PHISHSIM_HEADER, delivered_trace

EXPORT = (PHISHSIM_HEADER + "\n"
          "C,Run 1,2025-06-17T09:00:00Z,2025-06-19T09:00:00Z,A,B,a@acme-corp.example,Sent,2025-06-17T09:00:00Z,"
          "2025-06-17T10:00:00Z,,,,,,,,,it@sim.example,Notice,\n")
# the trace loaded covers 10 June only: the send on 17 June is not covered
TRACE = delivered_trace([("2025-06-10T08:00:00Z", "x@else.example", "b@acme-corp.example", "Other", 1),
                         ("2025-06-10T09:00:00Z", "x@else.example", "b@acme-corp.example", "Other", 2)])


def test_retention_shows_until_when_missing_logs_can_be_fetched(ws, tmp_path):
    (tmp_path / "export.csv").write_text(EXPORT, encoding="utf-8")
    (tmp_path / "trace.csv").write_text(TRACE, encoding="utf-8")
    ws.ingest("acme", [str(tmp_path / "export.csv"), str(tmp_path / "trace.csv")])
    (row,) = ws.outcomes("acme").iter_rows(named=True)
    assert row["outcome"] == "unverified" and "the loaded ones cover 2025-06-10 08:00 to 2025-06-10 09:00." in row["next_step"]
    # 17 June + 90 days (message trace reaches 90 days back) = 15 September
    assert row["next_step"].endswith("Get-MessageTraceV2 reaches 90 days back (10 days per query): "
                                     "m365_message_trace logs of the send time can be fetched until 2025-09-15.")
    cov = {r["source_format"]: r for r in ws.coverage("acme").iter_rows(named=True) if r["source_format"]}
    assert cov["m365_message_trace"]["retention_days"] == 90
    assert cov["m365_message_trace"]["first_send_fetchable_until"] == datetime(2025, 9, 15, 10, 0, tzinfo=timezone.utc)
    assert cov["phishsim_csv"]["retention_days"] is None  # not a vendor log


def test_every_retention_row_names_a_known_format():
    import csv
    from importlib import resources

    from phishtrace import registry

    text = (resources.files("phishtrace") / "data" / "retention.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))
    assert rows and {r["format"] for r in rows} <= set(registry.loaders())
    assert all(int(r["days"]) > 0 and r["how"] for r in rows)


def test_coverage_command_shows_the_retention(_template_db, tmp_path):
    import csv
    import io
    import shutil

    from click.testing import CliRunner

    from phishtrace.cli import main

    db = str(tmp_path / "cli.duckdb")
    shutil.copyfile(_template_db, db)
    (tmp_path / "export.csv").write_text(EXPORT, encoding="utf-8")
    (tmp_path / "trace.csv").write_text(TRACE, encoding="utf-8")
    assert CliRunner().invoke(main, ["ingest", "--db", db, "--customer", "acme", str(tmp_path / "export.csv"),
                                     str(tmp_path / "trace.csv")]).exit_code == 0
    r = CliRunner().invoke(main, ["coverage", "--db", db, "--format", "csv"])
    rows = {row["source_format"]: row for row in csv.DictReader(io.StringIO(r.output)) if row["source_format"]}
    assert rows["m365_message_trace"]["retention_days"] == "90"
    assert rows["m365_message_trace"]["first_send_fetchable_until"].startswith("2025-09-15")
