"""Tests of the defender_email_events and defender_post_delivery loaders and their staging views.

Real fixtures (../shared/fixtures/real/defender, formats.md §3.2):
* elastic_m365_defender_test-email.log: streaming envelopes of five tables; one EmailEvents record
  (line 2) with a double-escaped `\\u003c…\\u003e` InternetMessageId, and a schema-only
  EmailPostDeliveryEvents record (line 4) that has no Timestamp.
* graph2otel_live_emailevents_record.json / ..._emailpostdeliveryevents_record.json: one pretty-printed
  storage-export envelope each (Delivered to Inbox/folder; Redelivery).

Own samples in tests/data/defender (see its README.md):
* formats_md_email_events.jsonl (CRLF) and formats_md_post_delivery.jsonl: the verbatim samples
  printed in formats.md §3.2.1 (Sekoia and Elastic EmailEvents) and §3.2.2 (graph2otel Redelivery).
* email_events_verdicts.jsonl, post_delivery_verdicts.jsonl (CRLF): envelopes following §3.2, one per
  vendor value mapped, with records of other tables mixed in.
* email_events_plain_array.json, post_delivery_hunting_api.json, email_events_export.csv,
  post_delivery_export_semicolon.csv: the same columns without envelope (JSON array, hunting-API
  answer, CSV export with a lower-case `;` header).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from phishtrace import registry, textio
from phishtrace.errors import InputError

DATA = Path(__file__).parent / "data" / "defender"
UTC = timezone.utc
EE = "defender_email_events"
PD = "defender_post_delivery"
COLS = ("source_row, hop, verdict_hop, event_ts, message_id, vendor_id, sender, recipient, subject, action, "
        "location, reason, raw_status")


def ts(*parts) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def events(ws, fmt):
    view = f"stg_{fmt}"
    return ws.sql(f"SELECT {COLS} FROM {view} ORDER BY load_id, source_row, action").rows(named=True)


def counts(ws):
    return tuple(ws.sql(f"SELECT count(*) AS n FROM {t}")["n"][0]
                 for t in ("raw_defender_email_events", "raw_defender_post_delivery", "load_manifest", "load_rejects"))


def claimed_by(path: Path) -> list[str]:
    return [l.name for l in registry.claimants(path.read_bytes()[: textio.HEAD_BYTES])]


# -- real fixtures ---------------------------------------------------------------------------

def test_real_elastic_mixed_file_keeps_only_email_events(ws, real):
    path = real / "defender" / "elastic_m365_defender_test-email.log"
    assert claimed_by(path) == [EE]
    (res,) = ws.ingest("c", [path])
    assert (res.format, res.hop, res.rows, res.rejects) == (EE, "mailbox", 1, 0)
    (row,) = events(ws, EE)
    assert row["source_row"] == 2
    # properties.Timestamp, not the envelope time 06:21:48
    assert row["event_ts"] == ts(2022, 11, 22, 6, 19, 40)
    # "\\u003c...\\u003e" (double-escaped) gives the bare id, domain lower-cased
    assert row["message_id"] == ("odspmicro-Share-aa027ba0-90b4-2000-ba44-ea7a298163ce-f7f97e88-ecd5-492d-b91f-"
                                 "d7e29a01d0d4-a5747f2a-025d-46a4-8e3c-c6bf4a2c53b9@8956daa12345")
    assert row["vendor_id"] == "a194a8a6-d97c-4be1-ae31-08dacc512345"
    assert (row["sender"], row["recipient"]) == ("user@testmsftalerts.onmicrosoft.com",
                                                 "user@testmsftalerts.onmicrosoft.com")
    assert (row["action"], row["location"], row["verdict_hop"], row["hop"]) == ("delivered", "inbox", "server", "mailbox")
    assert row["subject"] == 'test shared "Test URL Click Document " with you.'
    assert ws.sql("SELECT ReportId, EmailDirection FROM raw_defender_email_events").rows() == [("1234", "Intra-org")]


def test_real_elastic_post_delivery_record_without_timestamp_is_refused(ws, real):
    path = real / "defender" / "elastic_m365_defender_test-email.log"
    with pytest.raises(InputError) as err:
        ws.ingest("c", [f"{path}:{PD}"])
    assert err.value.line == 4 and "without Timestamp" in err.value.message
    assert counts(ws) == (0, 0, 0, 0)


def test_real_graph2otel_email_events_pretty_printed(ws, real):
    path = real / "defender" / "graph2otel_live_emailevents_record.json"
    assert claimed_by(path) == [EE]
    (res,) = ws.ingest("c", [path])
    assert (res.rows, res.rejects) == (1, 0)
    (row,) = events(ws, EE)
    assert row["source_row"] == 1
    assert row["event_ts"] == ts(2026, 7, 18, 14, 8, 56)
    assert row["message_id"] == "da09dfe0-fe1c-49ee-974d-3d20ad913757@az.westeurope.microsoft.com"
    assert row["vendor_id"] == "3c7b1317-ac21-4754-5a76-08dee4d61558"
    assert (row["sender"], row["recipient"], row["subject"]) == (
        "azure-noreply@microsoft.com", "rob@m7kni.io", "User at risk detected")
    assert (row["action"], row["location"], row["verdict_hop"]) == ("delivered", "inbox", "server")
    assert row["raw_status"] == "Delivered / Inbox/folder"
    report = ws.sql("SELECT ReportId FROM raw_defender_email_events")["ReportId"][0]
    assert report == "3c7b1317-ac21-4754-5a76-08dee4d61558-4061291175951672650-1"


def test_real_graph2otel_redelivery(ws, real):
    path = real / "defender" / "graph2otel_live_emailpostdeliveryevents_record.json"
    assert claimed_by(path) == [PD]
    (res,) = ws.ingest("c", [path])
    assert (res.format, res.hop, res.rows) == (PD, "mailbox", 1)
    (row,) = events(ws, PD)
    assert row["event_ts"] == ts(2026, 7, 22, 10, 43, 5)  # not the envelope time 10:44:33
    assert row["message_id"] == "b853e0df-14f3-43c1-8058-a64e640d1b50@az.centralus.microsoft.com"
    assert row["vendor_id"] == "80aa9dda-c565-45a0-6133-08dee7cf4a7a"
    assert row["recipient"] == "rob@m7kni.io"
    assert (row["action"], row["location"], row["verdict_hop"]) == ("redelivered", "inbox", "mailbox")
    assert row["raw_status"] == "Redelivery / Success / Inbox"


def test_no_other_real_fixture_is_claimed(real):
    own = {"elastic_m365_defender_test-email.log": EE, "graph2otel_live_emailevents_record.json": EE,
           "graph2otel_live_emailpostdeliveryevents_record.json": PD}
    for path in sorted(p for p in real.rglob("*") if p.is_file()):
        mine = [n for n in claimed_by(path) if n in (EE, PD)]
        expected = [own[path.name]] if path.parent.name == "defender" else []
        assert mine == expected, path


# -- formats.md verbatim samples -------------------------------------------------------------

def test_formats_md_email_events_crlf(ws):
    (res,) = ws.ingest("c", [DATA / "formats_md_email_events.jsonl"])
    assert (res.format, res.rows) == (EE, 2)
    sekoia, elastic = events(ws, EE)
    assert sekoia["event_ts"] == ts(2024, 10, 28, 14, 18, 40)  # envelope time is 14:31:34
    assert (sekoia["vendor_id"], sekoia["sender"], sekoia["action"], sekoia["location"]) == (
        "11111111-1111-1111-1111-111111111111", "john.doe@company.com", "delivered", "inbox")
    assert "org policy Connection policy (Allow)" in sekoia["reason"]
    assert elastic["vendor_id"] == "a194a8a6-d97c-4be1-ae31-08dacc512345"


def test_formats_md_post_delivery(ws):
    ws.ingest("c", [DATA / "formats_md_post_delivery.jsonl"])
    (row,) = events(ws, PD)
    assert (row["action"], row["location"], row["recipient"], row["event_ts"]) == (
        "redelivered", "inbox", "rob@m7kni.io", ts(2026, 7, 22, 10, 43, 5))
    assert row["sender"] == "microsoft-noreply@microsoft.com"


# -- own samples: every vendor value ---------------------------------------------------------

def test_email_events_every_delivery_value(ws):
    (res,) = ws.ingest("c", [DATA / "email_events_verdicts.jsonl"])
    # 15 lines: line 9 is EmailUrlInfo and line 15 EmailPostDeliveryEvents (skipped, not rejected)
    assert (res.rows, res.rejects) == (13, 0)
    got = sorted((r["source_row"], r["recipient"], r["action"], r["location"], r["verdict_hop"]) for r in events(ws, EE))
    assert got == sorted([
        (1, "alice@corp.example", "delivered", "inbox", "server"),          # Delivered + Inbox/folder
        (2, "bob@corp.example", "moved_by_rule", "deleted", "mailbox"),     # Delivered + Deleted items
        (3, "carol@corp.example", "moved_by_rule", "other_folder", "mailbox"),  # Delivered + Others
        (4, "dave@corp.example", "junked", "junk", "server"),               # Junked + Junk
        (5, "erin@corp.example", "junked", "junk", "server"),               # Delivered + Junk
        (6, "frank@corp.example", "quarantined", "quarantine", "server"),   # Blocked + Quarantine
        (7, "grace@corp.example", "dropped", "none", "server"),             # Blocked + Failed
        (8, "heidi@corp.example", "dropped", "none", "server"),             # Blocked + Dropped
        (10, "ivan@corp.example", "relayed", "external", "server"),         # Delivered + On-premises/External
        (11, "judy@corp.example", "delivered", "inbox", "server"),          # Replaced
        (12, "kim@corp.example", "delivered", "inbox", "server"),           # Latest: Quarantine
        (12, "kim@corp.example", "removed_post_delivery", "quarantine", "mailbox"),
        (13, "leo@corp.example", "quarantined", "quarantine", "server"),    # Latest: Inbox/folder
        (13, "leo@corp.example", "released", "inbox", "server"),
        (14, "mia@corp.example", "delivered", "inbox", "server"),           # INBOX/FOLDER
    ])


def test_email_events_values(ws):
    ws.ingest("c", [DATA / "email_events_verdicts.jsonl"])
    rows = {(r["source_row"], r["action"]): r for r in events(ws, EE)}
    first = rows[(1, "delivered")]
    assert first["event_ts"] == ts(2024, 5, 6, 8, 0, 1)  # envelope time 08:00:01.5
    assert (first["message_id"], first["vendor_id"]) == ("EE1@phish.example", "00000001-aaaa-bbbb-cccc-08dc00000000")
    # envelope sender (SenderMailFromAddress), lower-cased
    assert (first["sender"], first["recipient"]) == ("bounce@phish.example", "alice@corp.example")
    assert first["reason"] == "Inbox/folder; org policy Phishing simulation (Allow)"
    assert "threats Phish" in rows[(6, "quarantined")]["reason"]
    moved = rows[(12, "removed_post_delivery")]
    assert moved["raw_status"] == "Moved to quarantine / Quarantine"
    assert "LatestDeliveryLocation Quarantine (delivered to Inbox/folder)" in moved["reason"]


def test_post_delivery_every_action_value(ws):
    (res,) = ws.ingest("c", [DATA / "post_delivery_verdicts.jsonl"])
    assert (res.format, res.rows, res.rejects) == (PD, 8, 0)
    got = [(r["source_row"], r["recipient"], r["action"], r["location"], r["verdict_hop"]) for r in events(ws, PD)]
    assert got == [
        (1, "alice@corp.example", "removed_post_delivery", "quarantine", "mailbox"),  # Phish ZAP
        (2, "bob@corp.example", "removed_post_delivery", "deleted", "mailbox"),       # Malware ZAP
        (3, "carol@corp.example", "removed_post_delivery", "junk", "mailbox"),        # Spam ZAP
        (4, "dave@corp.example", "removed_post_delivery", "deleted", "mailbox"),      # Manual Remediation
        (5, "erin@corp.example", "redelivered", "inbox", "mailbox"),                  # remediation to Inbox
        (6, "frank@corp.example", "redelivered", "inbox", "mailbox"),                 # Redelivery
        (7, "grace@corp.example", "received", None, "mailbox"),                       # ActionResult Failed
        (8, "heidi@corp.example", "received", None, "mailbox"),                       # ZAP left it in the Inbox
    ]
    rows = events(ws, PD)
    assert rows[0]["event_ts"] == ts(2024, 5, 7, 10, 0, 1)
    assert (rows[0]["message_id"], rows[0]["vendor_id"], rows[0]["sender"]) == (
        "PD1@phish.example", "00000001-dddd-eeee-ffff-08dc00000000", "it-support@phish.example")
    assert rows[6]["reason"] == "Phish ZAP attempt failed (ActionResult Failed)"


def test_mixed_file_post_delivery_records_load_when_forced(ws):
    path = DATA / "email_events_verdicts.jsonl"
    assert claimed_by(path) == [EE]
    ws.ingest("c", [path, f"{path}:{PD}"])
    (row,) = events(ws, PD)
    assert (row["source_row"], row["recipient"], row["action"], row["location"]) == (
        15, "alice@corp.example", "removed_post_delivery", "quarantine")
    formats = ws.sql("SELECT format, rows_loaded FROM load_manifest ORDER BY load_id").rows()
    assert formats == [(EE, 13), (PD, 1)]


def test_plain_json_array_rows_are_record_numbers(ws):
    (res,) = ws.ingest("c", [DATA / "email_events_plain_array.json"])
    assert res.format == EE
    rows = events(ws, EE)
    assert [(r["source_row"], r["recipient"], r["action"]) for r in rows] == [
        (1, "alice@corp.example", "delivered"), (2, "bob@corp.example", "moved_by_rule")]


def test_hunting_api_answer(ws):
    (res,) = ws.ingest("c", [DATA / "post_delivery_hunting_api.json"])
    assert res.format == PD
    assert [(r["source_row"], r["action"], r["location"]) for r in events(ws, PD)] == [
        (1, "removed_post_delivery", "quarantine"), (2, "removed_post_delivery", "deleted")]


def test_csv_export_email_events(ws):
    (res,) = ws.ingest("c", [DATA / "email_events_export.csv"])
    assert (res.format, res.rows, res.rejects) == (EE, 3, 0)
    rows = events(ws, EE)
    # a record starting on line 3 spans two lines, so the next one starts on line 5
    assert [r["source_row"] for r in rows] == [2, 3, 5]
    assert rows[0]["event_ts"] == ts(2024, 5, 6, 8, 30, 0, 123456)  # 7 fractional digits
    assert rows[1]["event_ts"] == ts(2024, 5, 6, 8, 31)              # 5/6/2024 8:31:00 AM, UTC
    assert rows[2]["event_ts"] == ts(2024, 5, 6, 8, 32)              # no zone: UTC
    assert (rows[0]["subject"], rows[0]["message_id"], rows[0]["action"]) == (
        'Invoice "overdue", action needed', "CSV21@phish.example", "delivered")
    assert (rows[1]["subject"], rows[1]["action"], rows[1]["location"]) == ("Two-line\nsubject", "quarantined", "quarantine")
    assert (rows[2]["recipient"], rows[2]["action"]) == ("pat@corp.example", "junked")


def test_csv_export_post_delivery_lower_case_semicolon_header(ws):
    (res,) = ws.ingest("c", [DATA / "post_delivery_export_semicolon.csv"])
    assert (res.format, res.rows) == (PD, 2)
    rows = events(ws, PD)
    assert [(r["source_row"], r["recipient"], r["action"], r["location"]) for r in rows] == [
        (2, "quinn@corp.example", "removed_post_delivery", "quarantine"),
        (3, "rita@corp.example", "received", None)]
    assert rows[0]["event_ts"] == ts(2024, 5, 7, 11, 0)


def test_rows_reach_int_mail_events(ws):
    ws.ingest("c", [DATA / "post_delivery_verdicts.jsonl", DATA / "email_events_verdicts.jsonl"])
    got = ws.sql("SELECT source_format, count(*) AS n FROM int_mail_events GROUP BY ALL ORDER BY 1").rows()
    assert got == [(EE, 15), (PD, 8)]


# -- bad input -------------------------------------------------------------------------------

ENVELOPE = (DATA / "formats_md_post_delivery.jsonl").read_text().strip()
EE_LINE = (DATA / "formats_md_email_events.jsonl").read_text().splitlines()[0]
CSV_HEADER = "Timestamp,NetworkMessageId,RecipientEmailAddress,DeliveryAction,DeliveryLocation\n"

BAD = {
    "truncated_line": (PD, ENVELOPE + "\n" + ENVELOPE[:120] + "\n", 2, "not a JSON object"),
    "not_json_line": (EE, EE_LINE + "\n" + EE_LINE + "\nTimestamp NetworkMessageId\n", 3, "not a JSON object"),
    "bad_timestamp": (PD, ENVELOPE.replace('"2026-07-22T10:43:05Z"', '"22.07.2026 10:43"') + "\n", 1, "bad Timestamp"),
    "csv_bad_timestamp": (EE, CSV_HEADER + "2024-05-06T08:00:00Z,n1,a@corp.example,Delivered,Inbox/folder\n"
                          "tomorrow,n2,b@corp.example,Delivered,Inbox/folder\n", 3, "bad Timestamp"),
    "csv_short_row": (EE, CSV_HEADER + "2024-05-06T08:00:00Z,n1,a@corp.example\n", 2, "fields where the header has"),
    "wrong_csv_header": (EE, "Date,Sender,Recipient,Status\n2024-05-06,a,b,Delivered\n", 1,
                         "missing Timestamp, NetworkMessageId"),
    "truncated_pretty_json": (PD, '{\n  "category": "AdvancedHunting-EmailPostDeliveryEvents",\n  "properties": {\n'
                              '    "Timestamp": "2026-07-22T10:43:05Z",\n', 4, "invalid JSON"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_names_the_line_and_loads_nothing(ws, tmp_path, case):
    ws.ingest("c", [DATA / "formats_md_email_events.jsonl"])
    before = counts(ws)
    fmt, text, line, expected = BAD[case]
    path = tmp_path / f"{case}.txt"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        ws.ingest("c", [f"{path}:{fmt}"])
    assert (err.value.path, err.value.line) == (str(path), line)
    assert expected in err.value.message
    assert f"{path}:{line}" in str(err.value)
    assert counts(ws) == before


def test_wrong_csv_header_is_not_claimed(tmp_path, ws):
    path = tmp_path / "other.csv"
    path.write_text("Date,Sender,Recipient,Status\n2024-05-06,a,b,Delivered\n")
    assert not {EE, PD} & set(claimed_by(path))


@pytest.mark.parametrize("fmt", [EE, PD])
def test_empty_file_is_refused(ws, tmp_path, fmt):
    path = tmp_path / "empty.json"
    path.write_text("")
    with pytest.raises(InputError) as err:
        ws.ingest("c", [f"{path}:{fmt}"])
    assert err.value.line == 1 and "empty" in err.value.message
    assert counts(ws) == (0, 0, 0, 0)


def test_file_without_records_of_the_table_is_refused(ws, real):
    # forced on the Redelivery envelope, the EmailEvents loader finds none of its records
    path = real / "defender" / "graph2otel_live_emailpostdeliveryevents_record.json"
    with pytest.raises(InputError) as err:
        ws.ingest("c", [f"{path}:{EE}"])
    assert "no records found" in err.value.message
    assert counts(ws) == (0, 0, 0, 0)


def test_sniff_decisions():
    ee, pd_ = registry.get(EE), registry.get(PD)
    both = '{"category":"AdvancedHunting-EmailPostDeliveryEvents"}\n{"category":"AdvancedHunting-EmailEvents"}\n'
    assert ee.sniff(b"", both) and not pd_.sniff(b"", both)
    clicks = '{"category":"AdvancedHunting-UrlClickEvents","properties":{}}\n'
    assert not ee.sniff(b"", clicks) and not pd_.sniff(b"", clicks)
    # TIMailData has NetworkMessageId and DeliveryAction but no Timestamp / DeliveryLocation
    timail = '{"NetworkMessageId":"x","DeliveryAction":"Blocked","LatestDeliveryLocation":"Quarantine","MessageTime":"t"}'
    assert not ee.sniff(b"", timail) and not pd_.sniff(b"", timail)
    assert pd_.sniff(b"", "timestamp;networkmessageid;recipientemailaddress;actiontype;actionresult\r\n")
    assert not ee.sniff(b"", "timestamp;networkmessageid;recipientemailaddress;actiontype;actionresult\r\n")
