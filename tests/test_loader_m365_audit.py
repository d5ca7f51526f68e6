"""Tests of the m365_timaildata_json loader and stg_m365_timaildata_json.

Real fixture (../shared/fixtures/real/m365_audit): Elastic's TIMailData `event.original` values,
formats.md §3.3.1 (JSON lines; Blocked/Quarantine, Delivered/JunkFolder, Delivered/Inbox,
DeliveredAsSpam/JunkFolder, Blocked/Quarantine for Malware).

Own samples in tests/data/m365_audit (see its README.md), following formats.md §3.3.1 field for field:
* timaildata_blob.json: a Management Activity API content blob (one JSON array on one line) with one
  record per mapped DeliveryAction / OriginalDeliveryLocation / LatestDeliveryLocation combination;
* audit_search.csv: the audit search CSV export (CreationDate,UserIds,Operations,AuditData) of two of them.
"""

from __future__ import annotations

import codecs
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from phishtrace import registry, textio
from phishtrace.errors import InputError

DATA = Path(__file__).parent / "data" / "m365_audit"
UTC = timezone.utc
FMT = "m365_timaildata_json"
COLS = "source_row, event_ts, verdict_hop, message_id, vendor_id, sender, recipient, subject, action, location, raw_status"


def ts(*parts) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def events(ws):
    return ws.sql(f"SELECT {COLS} FROM stg_m365_timaildata_json ORDER BY load_id, source_row, recipient, event_ts, action"
                  ).rows(named=True)


def assert_nothing_loaded(ws):
    for table in ("raw_m365_timaildata_json", "load_manifest", "load_rejects"):
        assert ws.sql(f"SELECT count(*) AS n FROM {table}")["n"][0] == 0, table


def claims(path: Path) -> list[str]:
    head = path.read_bytes()[: textio.HEAD_BYTES]
    return [l.name for l in registry.claimants(head)]


# -- real fixture -----------------------------------------------------------------------------

def test_real_fixture_verdicts(ws, real):
    path = real / "m365_audit" / "elastic_o365_threatintelligence_TIMailData_event_original.ndjson"
    assert claims(path) == [FMT]
    [res] = ws.ingest("c1", [str(path)])
    assert (res.format, res.hop, res.rows, res.rejects) == (FMT, "mailbox", 5, 0)
    got = events(ws)
    # every record has LatestDeliveryLocation = OriginalDeliveryLocation: one verdict event each
    assert [(e["source_row"], e["action"], e["location"], e["raw_status"], e["sender"]) for e in got] == [
        (1, "quarantined", "quarantine", "Blocked / Quarantine", "sender@example.com"),
        (2, "junked", "junk", "Delivered / JunkFolder", "sender@example.com"),
        (3, "delivered", "inbox", "Delivered / Inbox", "p1sender@example.com"),
        (4, "junked", "junk", "DeliveredAsSpam / JunkFolder", "p1sender@example.com"),
        (5, "quarantined", "quarantine", "Blocked / Quarantine", "sender@example.com"),
    ]
    for e in got:
        assert e["event_ts"] == ts(2021, 12, 31, 23, 59, 59)
        assert e["verdict_hop"] == "server"
        assert e["message_id"] == "msid@example.com"
        assert e["vendor_id"] == "dddddddd-cccc-eeee-aaaa-bbbbbbbbbbbb"
        assert e["recipient"] == "user@example.com"
    assert got[4]["subject"] == "2021-12-31"
    man = ws.sql("SELECT hop, rows_loaded, tz_assumption, window_start, window_end FROM load_manifest").rows(named=True)
    assert man == [{"hop": "mailbox", "rows_loaded": 5, "tz_assumption": "UTC (stated by the format)",
                    "window_start": ts(2021, 12, 31, 23, 59, 59), "window_end": ts(2021, 12, 31, 23, 59, 59)}]
    # the view is part of the union of all mail events
    union = ws.sql("SELECT hop, verdict_hop, action FROM int_mail_events WHERE source_format = ? ORDER BY source_row",
                   [FMT]).rows()
    assert union == [("mailbox", "server", a) for a in ("quarantined", "junked", "delivered", "junked", "quarantined")]


def test_real_fixture_raw_columns(ws, real):
    ws.ingest("c1", [str(real / "m365_audit" / "elastic_o365_threatintelligence_TIMailData_event_original.ndjson")])
    row = ws.sql("SELECT * FROM raw_m365_timaildata_json WHERE source_row = 5").rows(named=True)[0]
    assert row["verdict"] == "Malware"
    assert row["policy"] == "AntiMalware"
    assert row["creation_time"] == "2021-12-31T23:59:59"
    assert json.loads(row["extra"])["AttachmentData"][0]["FileName"] == "untitled1.eml"


# -- own samples ------------------------------------------------------------------------------

V, Z = "2024-03-04T10:00:", ts(2024, 3, 4, 10, 30)


def test_sample_blob_every_mapping(ws):
    [res] = ws.ingest("c1", [str(DATA / "timaildata_blob.json")])
    assert (res.rows, res.rejects) == (16, 0)
    got = [(e["source_row"], e["recipient"], e["event_ts"], e["action"], e["location"], e["verdict_hop"])
           for e in events(ws)]
    t = lambda s: ts(2024, 3, 4, 10, 0, s)  # noqa: E731  MessageTime of record s
    assert got == [
        (1, "ann@example.com", t(1), "delivered", "inbox", "server"),
        (1, "ben@example.com", t(1), "delivered", "inbox", "server"),
        (2, "cara@example.com", t(2), "delivered", "inbox", "server"),
        (2, "cara@example.com", Z, "removed_post_delivery", "quarantine", "mailbox"),
        (3, "dan@example.com", t(3), "delivered", "inbox", "server"),
        (3, "dan@example.com", Z, "removed_post_delivery", "junk", "mailbox"),
        (4, "eve@example.com", t(4), "delivered", "inbox", "server"),
        (4, "eve@example.com", Z, "removed_post_delivery", "deleted", "mailbox"),
        (5, "fay@example.com", t(5), "moved_by_rule", "deleted", "mailbox"),
        (6, "gus@example.com", t(6), "relayed", "external", "server"),
        (7, "hal@example.com", t(7), "delivered", "inbox", "server"),
        (8, "ida@example.com", t(8), "quarantined", "quarantine", "server"),
        (9, "jon@example.com", t(9), "dropped", "none", "server"),
        (10, "kim@example.com", t(10), "quarantined", "quarantine", "server"),
        (10, "kim@example.com", Z, "released", "inbox", "server"),
        (11, "lou@example.com", t(11), "junked", "junk", "server"),
        (11, "lou@example.com", Z, "redelivered", "inbox", "server"),
        (12, "mia@example.com", t(12), "moved_by_rule", "deleted", "mailbox"),
        (12, "mia@example.com", Z, "redelivered", "inbox", "mailbox"),
        (13, "ned@example.com", t(13), "delivered", "inbox", "server"),
        (13, "ned@example.com", Z, "moved_by_rule", "other_folder", "mailbox"),
        (14, "ola@example.com", t(14), "dropped", "none", "server"),
        (15, "pat@example.com", t(15), "received", "inbox", "server"),
    ]


def test_sample_ids_senders_and_raw_status(ws):
    ws.ingest("c1", [str(DATA / "timaildata_blob.json")])
    rows = {(e["source_row"], e["action"]): e for e in events(ws)}
    zap = rows[(2, "removed_post_delivery")]
    assert zap["raw_status"] == "Inbox -> Quarantine"
    assert zap["message_id"] == "sim.2@phish-sim.example"  # domain part lower-cased
    assert zap["vendor_id"] == "0b5d6e7f-0002-4a1b-9c2d-3e4f5a6b7c8d"
    assert zap["sender"] == "bounce@phish-sim.example"  # P1Sender (envelope)
    assert rows[(14, "dropped")]["sender"] == "it-support@phish-sim.example"  # no P1Sender: P2Sender
    assert rows[(6, "relayed")]["raw_status"] == "Delivered / On-premises/External"
    assert rows[(15, "received")]["raw_status"] == "Pending / Inbox"
    assert rows[(1, "delivered")]["subject"] == "Action required: password expiry"
    man = ws.sql("SELECT window_start, window_end FROM load_manifest").rows()
    assert man == [(ts(2024, 3, 4, 10, 0, 1), Z)]


def test_sample_audit_search_csv(ws):
    path = DATA / "audit_search.csv"
    assert claims(path) == [FMT]
    [res] = ws.ingest("c1", [str(path)])
    assert (res.rows, res.rejects) == (2, 0)
    got = [(e["source_row"], e["recipient"], e["action"], e["location"], e["event_ts"]) for e in events(ws)]
    assert got == [
        (2, "cara@example.com", "delivered", "inbox", ts(2024, 3, 4, 10, 0, 2)),
        (2, "cara@example.com", "removed_post_delivery", "quarantine", Z),
        (3, "dan@example.com", "delivered", "inbox", ts(2024, 3, 4, 10, 0, 3)),
        (3, "dan@example.com", "removed_post_delivery", "junk", Z),
    ]


def test_utf16_csv_and_search_wrapper(ws, tmp_path):
    text = (DATA / "audit_search.csv").read_text(encoding="utf-8-sig")
    p16 = tmp_path / "audit_utf16.csv"
    p16.write_bytes(codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    record = json.loads((DATA / "timaildata_blob.json").read_text())[8]  # Blocked / Failed for jon@
    # Search-UnifiedAuditLog | ConvertTo-Json: the record is a JSON string in AuditData
    wrapped = tmp_path / "search.json"
    wrapped.write_text(json.dumps([{"RecordType": "ThreatIntelligence", "CreationDate": "2024-03-04T10:00:09",
                                    "UserIds": "ThreatIntel", "Operations": "TIMailData",
                                    "AuditData": json.dumps(record)}], indent=2))
    assert claims(p16) == [FMT] and claims(wrapped) == [FMT]
    ws.ingest("c1", [str(p16), str(wrapped)])
    got = [(e["recipient"], e["action"], e["location"]) for e in events(ws)]
    assert got == [("cara@example.com", "delivered", "inbox"), ("cara@example.com", "removed_post_delivery", "quarantine"),
                   ("dan@example.com", "delivered", "inbox"), ("dan@example.com", "removed_post_delivery", "junk"),
                   ("jon@example.com", "dropped", "none")]


def test_other_operations_are_skipped(ws, tmp_path):
    records = json.loads((DATA / "timaildata_blob.json").read_text())[:1]
    records.insert(0, {"CreationTime": "2024-03-04T09:00:00", "Id": "x", "Operation": "MailItemsAccessed",
                       "RecordType": 50, "UserId": "ann@example.com", "Workload": "Exchange"})
    path = tmp_path / "mixed.json"
    path.write_text(json.dumps(records))
    ws.ingest("c1", [str(path)])
    assert [(e["source_row"], e["recipient"]) for e in events(ws)] == [(2, "ann@example.com"), (2, "ben@example.com")]


def test_explicit_zone_is_honoured(ws, tmp_path):
    record = json.loads((DATA / "timaildata_blob.json").read_text())[0]
    record.update(MessageTime="2024-03-04T12:00:01+02:00", CreationTime="2024-03-04T10:00:01Z", Recipients=["ann@example.com"])
    path = tmp_path / "zoned.ndjson"
    path.write_text(json.dumps(record) + "\n")
    ws.ingest("c1", [str(path)])
    assert [e["event_ts"] for e in events(ws)] == [ts(2024, 3, 4, 10, 0, 1)]


# -- sniffing ---------------------------------------------------------------------------------

def test_sniff_is_specific():
    loader = registry.get(FMT)
    rules = Path(__file__).parent / "data" / "m365_inbox_rules" / "rules.ndjson"
    assert FMT not in claims(rules)
    assert not loader.sniff(b"", '{"Operation":"New-InboxRule"}')
    assert not loader.sniff(b"", "CreationDate,UserIds,Operations\nx,y,TIMailData\n")  # no AuditData column
    assert loader.sniff(b"", '[{"Operation" : "TIMailData"}]')


# -- bad input --------------------------------------------------------------------------------

def _lines() -> list[str]:
    return [json.dumps(r) for r in json.loads((DATA / "timaildata_blob.json").read_text())[:4]]


@pytest.mark.parametrize("body, line, words", [
    pytest.param("\n".join(_lines()[:3] + [_lines()[3][:120]]) + "\n", 4, "not valid JSON", id="truncated-line"),
    pytest.param("\n".join(_lines()[:2] + [_lines()[2].replace("2024-03-04T10:00:03", "04/03/2024 10:00")]
                           + _lines()[3:]), 3, "MessageTime", id="bad-timestamp"),
    pytest.param("\n".join(_lines()[:1] + [_lines()[1].replace('"Recipients": ["cara@example.com"]', '"Recipients": []')]
                           + _lines()[2:]), 2, "Recipients", id="no-recipients"),
    pytest.param("\n".join(_lines()[:1] + [json.dumps({"TIMailData": 1, "Recipients": ["x@example.com"]})]
                           + _lines()[2:]), 2, "no Operation", id="not-an-audit-record"),
    pytest.param('[{"Operation":"TIMailData","Recipients":["a@example.com"],\n "CreationTime": "2024-03-04T10:00:0', 2,
                 "not valid JSON", id="truncated-array"),
])
def test_bad_json_input_names_line_and_loads_nothing(ws, tmp_path, body, line, words):
    path = tmp_path / "bad.json"
    path.write_text(body)
    with pytest.raises(InputError) as err:
        ws.ingest("c1", [f"{path}:{FMT}"])
    assert err.value.path == str(path)
    assert err.value.line == line
    assert words in err.value.message
    assert_nothing_loaded(ws)


def test_wrong_csv_header(ws, tmp_path):
    path = tmp_path / "wrong.csv"
    path.write_text("RecordId,CreationDate,Operation,UserId\n1,2024-03-04,TIMailData,x\n")
    with pytest.raises(InputError) as err:
        ws.ingest("c1", [f"{path}:{FMT}"])
    assert err.value.line == 1 and "AuditData" in err.value.message
    assert_nothing_loaded(ws)


def test_csv_with_broken_audit_data(ws, tmp_path):
    text = (DATA / "audit_search.csv").read_text(encoding="utf-8-sig").splitlines()
    text[2] = text[2][:200] + '"'
    path = tmp_path / "broken.csv"
    path.write_text("\n".join(text) + "\n")
    with pytest.raises(InputError) as err:
        ws.ingest("c1", [f"{path}:{FMT}"])
    assert err.value.line == 3 and "AuditData is not valid JSON" in err.value.message
    assert_nothing_loaded(ws)


def test_file_of_other_operations_only(ws):
    rules = Path(__file__).parent / "data" / "m365_inbox_rules" / "rules.ndjson"
    with pytest.raises(InputError) as err:
        ws.ingest("c1", [f"{rules}:{FMT}"])
    assert "no records found" in err.value.message
    assert_nothing_loaded(ws)


def test_empty_and_garbage(ws, tmp_path):
    empty = tmp_path / "empty.json"
    empty.write_text("\n\n")
    with pytest.raises(InputError) as err:
        ws.ingest("c1", [f"{empty}:{FMT}"])
    assert err.value.line == 1
    garbage = tmp_path / "garbage.json"
    garbage.write_text("this is not an audit export\n")
    with pytest.raises(InputError) as err:
        ws.ingest("c1", [f"{garbage}:{FMT}"])
    assert "AuditData" in err.value.message  # read as CSV: the header lacks the audit columns
    assert_nothing_loaded(ws)
