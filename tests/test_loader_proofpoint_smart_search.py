"""Proofpoint Smart Search loader (formats.md §2.1.3): the real XSOAR context example, the REST response
shape, the own CSV sample (header unconfirmed), and bad input."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from phishtrace import InputError, registry, textio

DATA = Path(__file__).parent / "data" / "proofpoint_smart_search"
UTC = timezone.utc
COLS = ("source_row, event_ts, message_id, vendor_id, sender, recipient, subject, action, location, reason, "
        "raw_status, verdict_hop")


def staged(ws):
    return ws.sql(f"SELECT {COLS} FROM stg_proofpoint_smart_search ORDER BY load_id, source_row, recipient").rows(named=True)


def assert_nothing_loaded(ws):
    assert ws.sql("SELECT count(*) AS n FROM raw_proofpoint_smart_search")["n"][0] == 0
    assert ws.sql("SELECT count(*) AS n FROM load_manifest")["n"][0] == 0


def test_sniff_claims_smart_search_only(real):
    mine = [real / "proofpoint_pod" / "xsoar_pps_smart_search_context_example.json", DATA / "smart_search.csv"]
    for path in mine:
        head = path.read_bytes()[: textio.HEAD_BYTES]
        assert [l.name for l in registry.claimants(head)] == ["proofpoint_smart_search"], path
    loader = registry.get("proofpoint_smart_search")
    for path in sorted(real.rglob("*")):
        if path.is_file() and path not in mine and path.suffix != ".md":
            head = path.read_bytes()[: textio.HEAD_BYTES]
            assert not loader.sniff(head, textio.head_text(head)), path


def test_real_xsoar_context_example(ws, real):
    path = real / "proofpoint_pod" / "xsoar_pps_smart_search_context_example.json"
    rec = json.loads(path.read_text())["Proofpoint"]["SmartSearch"][0]
    [res] = ws.ingest("acme", [path])
    assert (res.format, res.hop, res.rows) == ("proofpoint_smart_search", "filter", 1)
    [row] = staged(ws)
    # 2020-05-20 14:13:02 at UTC-06:00 is 20:13:02 UTC
    assert rec["Date"] == "2020-05-20 14:13:02 [UTC-0600]"
    assert row["event_ts"] == datetime(2020, 5, 20, 20, 13, 2, tzinfo=UTC)
    assert row["message_id"] == rec["Message_ID"].strip("<>")
    assert row["vendor_id"] == rec["GUID"]
    assert (row["sender"], row["recipient"]) == (rec["Sender"], rec["Recipients"])
    assert row["subject"] == rec["Subject"]
    assert (row["action"], row["location"], row["verdict_hop"]) == ("passed", None, "filter")
    assert row["raw_status"] == "accept"
    assert row["reason"] == "final action accept (access.system)"
    assert ws.sql("SELECT qid FROM raw_proofpoint_smart_search")["qid"][0] == rec["QID"]


def test_rest_response_shape_and_json_lines(ws, real, tmp_path):
    rec = json.loads((real / "proofpoint_pod" / "xsoar_pps_smart_search_context_example.json").read_text())[
        "Proofpoint"]["SmartSearch"][0]
    second = {**rec, "GUID": "second-guid", "Final_Action": "discard", "Quarantine_Folder": "Phish",
              "Quarantine_Rule": "phish", "Recipients": "a@example.com, B@Example.com",
              "Date": "2020-05-20 23:30:00 [UTC+0530]"}
    rest = tmp_path / "rest.json"
    rest.write_text(json.dumps({"result": [rec, second]}, indent=2))
    lines = tmp_path / "lines.jsonl"
    lines.write_text(json.dumps(rec) + "\n" + json.dumps(second) + "\n")
    ws.ingest("acme", [rest, lines])
    rows = staged(ws)
    got = [(r["source_row"], r["recipient"], r["action"], r["location"], r["event_ts"]) for r in rows]
    when = datetime(2020, 5, 20, 18, 0, tzinfo=UTC)
    assert got == [
        (1, "user@example.com", "passed", None, datetime(2020, 5, 20, 20, 13, 2, tzinfo=UTC)),
        (2, "a@example.com", "quarantined", "quarantine", when),
        (2, "b@example.com", "quarantined", "quarantine", when),
        (1, "user@example.com", "passed", None, datetime(2020, 5, 20, 20, 13, 2, tzinfo=UTC)),
        (2, "a@example.com", "quarantined", "quarantine", when),
        (2, "b@example.com", "quarantined", "quarantine", when),
    ]
    assert rows[1]["reason"] == "final action discard (access.system); quarantine Phish/phish"


# Final_Action (+ quarantine, sendmail result) -> (action, location, verdict_hop), as documented in the loader
EXPECTED = {
    "alice@example.com": ("passed", None, "filter"),
    "bob@example.com": ("passed", None, "filter"),        # continue, Sendmail Sent
    "carol@example.com": ("quarantined", "quarantine", "filter"),
    "dave@example.com": ("dropped", "none", "filter"),
    "erin@example.com": ("rejected", None, "filter"),
    "frank@example.com": ("deferred", None, "filter"),
    "grace@example.com": ("passed", None, "filter"),      # redirect
    "heidi@example.com": ("bounced", None, "server"),     # 5.1.1 User unknown from the next hop
    "ivan@example.com": ("deferred", None, "filter"),     # 4.4.1 Deferred
    "judy@example.com": ("passed", None, "filter"),       # audit quarantine copy, continue
    "mallory@example.com": ("passed", None, "filter"),
}


def test_csv_sample_covers_every_final_action(ws):
    path = DATA / "smart_search.csv"
    source = list(csv.DictReader(path.open(newline="")))
    assert {r["Final_Action"] for r in source} == {"accept", "continue", "discard", "reject", "retry", "redirect"}
    [res] = ws.ingest("acme", [path])
    assert (res.rows, res.rejects) == (11, 0)
    rows = {r["recipient"]: r for r in staged(ws)}
    assert {k: (v["action"], v["location"], v["verdict_hop"]) for k, v in rows.items()} == EXPECTED
    for line, rec in enumerate(source, start=2):
        for rcpt in rec["Recipients"].split(","):
            row = rows[rcpt]
            assert row["source_row"] == line
            assert row["message_id"] == rec["Message_ID"].strip("<>")
            assert row["vendor_id"] == rec["GUID"]
            assert row["sender"] == rec["Sender"]
            assert row["raw_status"].split("/")[0] == rec["Final_Action"]
    assert rows["alice@example.com"]["event_ts"] == datetime(2024, 3, 5, 15, 0, 1, tzinfo=UTC)
    assert rows["heidi@example.com"]["event_ts"] == datetime(2024, 3, 5, 15, 30, 8, tzinfo=UTC)
    assert rows["judy@example.com"]["event_ts"] == datetime(2024, 3, 5, 15, 30, 10, tzinfo=UTC)
    assert rows["carol@example.com"]["reason"] == "final action discard (spam.phish); quarantine Phish/phish"
    assert "5.1.1 User unknown" in rows["heidi@example.com"]["reason"]
    assert rows["heidi@example.com"]["raw_status"] == "accept/5.1.1/User unknown/User unknown"


def test_csv_header_with_spaces_and_other_case(ws, tmp_path):
    p = tmp_path / "ui.csv"
    p.write_text("date,final action,GUID,message id,recipients,sender,subject\r\n"
                 "2024-03-05 09:00:01 [UTC-0600],Reject,G1,<m1@x.example>,a@example.com,s@x.example,Hi\r\n")
    ws.ingest("acme", [p])
    [row] = staged(ws)
    assert (row["action"], row["message_id"], row["vendor_id"]) == ("rejected", "m1@x.example", "G1")
    assert row["event_ts"] == datetime(2024, 3, 5, 15, 0, 1, tzinfo=UTC)


def test_date_without_zone_needs_tz(ws, tmp_path):
    p = tmp_path / "nozone.csv"
    p.write_text("Date,Final_Action,GUID,Recipients\n2024-03-05 09:00:01,accept,G1,a@example.com\n")
    with pytest.raises(InputError) as err:
        ws.ingest("acme", [p])
    assert err.value.line == 2 and "--tz" in str(err.value)
    assert_nothing_loaded(ws)
    ws.ingest("acme", [p], tz="Europe/Paris")
    assert staged(ws)[0]["event_ts"] == datetime(2024, 3, 5, 8, 0, 1, tzinfo=UTC)


HEADER = "Date,Final_Action,Final_Rule,GUID,QID,Message_ID,Sender,Recipients,Quarantine_Folder\n"
GOOD = "2024-03-05 09:00:01 [UTC-0600],accept,access.system,G1,Q1,<m1@x>,s@x.example,a@example.com,\n"


@pytest.mark.parametrize("text, line, fragment", [
    (HEADER.replace("Final_Action", "Action"), 1, "lacks Final_Action"),
    (HEADER.replace("Recipients", "Rcpts"), 1, "lacks Recipients"),
    (HEADER + GOOD + GOOD.replace("2024-03-05 09:00:01 [UTC-0600]", "05/03/2024 9:00"), 3, "Date"),
    (HEADER + GOOD + GOOD.replace("accept", "quarantine"), 3, "Final_Action 'quarantine'"),
    (HEADER + GOOD + GOOD.rsplit(",", 3)[0] + "\n", 3, "expected 9 fields"),
])
def test_bad_csv_is_refused_whole(ws, tmp_path, text, line, fragment):
    p = tmp_path / "bad.csv"
    p.write_text(text + GOOD)
    with pytest.raises(InputError) as err:
        ws.ingest("acme", [f"{p}:proofpoint_smart_search"])
    assert err.value.line == line
    assert fragment in str(err.value)
    assert str(p) in str(err.value)
    assert_nothing_loaded(ws)


def test_truncated_json_is_refused(ws, real, tmp_path):
    text = (real / "proofpoint_pod" / "xsoar_pps_smart_search_context_example.json").read_text()
    p = tmp_path / "cut.json"
    p.write_text(text[: len(text) // 2])
    with pytest.raises(InputError) as err:
        ws.ingest("acme", [p])
    assert "not valid JSON" in str(err.value) and err.value.line is not None
    assert_nothing_loaded(ws)
