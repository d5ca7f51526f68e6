"""fct_unmatched_events: simulation-looking mail events that matched no campaign message, and why."""

from __future__ import annotations

from click.testing import CliRunner

from phishtrace.cli import main
from report_support import PHISHSIM_HEADER, delivered_trace

EXPORT = (
    PHISHSIM_HEADER + "\n"
    "Payroll,Run 1,2025-06-17T09:00:00Z,2025-06-19T09:00:00Z,Maria,Ali,maria.ali@acme-corp.example,Sent,"
    "2025-06-17T09:00:00Z,2025-06-17T10:00:00Z,,,,,,,,,payroll@sim.example,Your payslip,\n"
    "Payroll,Run 1,2025-06-17T09:00:00Z,2025-06-19T09:00:00Z,Omar,Wang,omar.wang@acme-corp.example,Sent,"
    "2025-06-17T09:00:00Z,2025-06-17T10:00:00Z,,,,,,,,,payroll@sim.example,Your payslip,\n"
    # Pat is only in another campaign, from another sender
    "Benefits,Run 1,2025-06-17T09:00:00Z,2025-06-19T09:00:00Z,Pat,Kim,pat.kim@acme-corp.example,Sent,"
    "2025-06-17T09:00:00Z,2025-06-17T10:00:00Z,,,,,,,,,benefits@other.example,Open enrolment,\n")
ROWS = [
    # delivered to an alias of Maria the export does not know
    ("2025-06-17T10:00:05Z", "payroll@sim.example", "m.ali@acme-corp.example", "Your payslip", "1"),
    # Omar's copy, matched in the window
    ("2025-06-17T10:00:06Z", "payroll@sim.example", "omar.wang@acme-corp.example", "Your payslip", "2"),
    # mail from the simulation's domain to Omar five days later: outside the 72 h window
    ("2025-06-22T10:00:00Z", "notices@sim.example", "omar.wang@acme-corp.example", "Reminder", "3"),
    # the campaign's subject from another sender, to someone not in the export
    ("2025-06-17T11:00:00Z", "someone@else.example", "x.lee@acme-corp.example", "Your payslip", "4"),
    # Payroll's mail to Pat, who is in the Benefits campaign only
    ("2025-06-17T10:00:07Z", "payroll@sim.example", "pat.kim@acme-corp.example", "Your payslip", "6"),
    # ordinary mail: neither the campaign's sender nor its subject
    ("2025-06-17T11:30:00Z", "news@else.example", "x.lee@acme-corp.example", "Weekly news", "5"),
]


def test_unmatched_events_name_what_they_resemble_and_the_likely_cause(ws, tmp_path):
    (tmp_path / "export.csv").write_text(EXPORT, encoding="utf-8")
    (tmp_path / "trace.csv").write_text(delivered_trace(ROWS), encoding="utf-8")
    ws.ingest("acme", [str(tmp_path / "export.csv"), str(tmp_path / "trace.csv")])
    got = {r["recipient"] + " " + r["event_ts"].strftime("%d"): r for r in ws.unmatched("acme").iter_rows(named=True)}
    assert set(got) == {"m.ali@acme-corp.example 17", "omar.wang@acme-corp.example 22", "x.lee@acme-corp.example 17",
                        "pat.kim@acme-corp.example 17"}
    pat = got["pat.kim@acme-corp.example 17"]
    assert pat["campaign"] == "Payroll" and pat["likely_cause"].startswith("recipient not in this campaign's export")
    alias = got["m.ali@acme-corp.example 17"]
    assert alias["looks_like"] == "campaign sender and campaign subject" and alias["campaign"] == "Payroll"
    assert alias["likely_cause"].startswith("recipient not in this campaign's export")
    late = got["omar.wang@acme-corp.example 22"]
    assert late["looks_like"] == "campaign sender" and late["likely_cause"].startswith("recipient is in this campaign's export")
    other = got["x.lee@acme-corp.example 17"]
    assert other["looks_like"] == "campaign subject" and other["sender"] == "someone@else.example"

    # with the alias known, Maria's copy is matched and leaves the list
    ws.add_aliases("acme", [("m.ali@acme-corp.example", "maria.ali@acme-corp.example")])
    assert "m.ali@acme-corp.example" not in ws.unmatched("acme")["recipient_as_logged"].to_list()
    assert ws.unmatched("acme").height == 3


def test_unmatched_command(_template_db, tmp_path):
    import shutil

    db = str(tmp_path / "cli.duckdb")
    shutil.copyfile(_template_db, db)
    (tmp_path / "export.csv").write_text(EXPORT, encoding="utf-8")
    (tmp_path / "trace.csv").write_text(delivered_trace(ROWS), encoding="utf-8")
    r = CliRunner().invoke(main, ["ingest", "--db", db, "--customer", "acme", str(tmp_path / "export.csv"),
                                  str(tmp_path / "trace.csv")])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["unmatched", "--db", db, "--format", "csv", "--campaign", "Payroll"])
    assert r.exit_code == 0, r.output
    lines = r.output.strip().splitlines()
    assert lines[0].split(",")[:3] == ["customer", "campaign", "recipient"] and len(lines) == 5
