"""m365_trace_detail: Get-MessageTraceDetail[V2] exports and Graph detail JSON (formats.md §3.1.3)."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from phishtrace import InputError, Workspace, registry, textio

DATA = Path(__file__).parent / "data" / "m365_trace_detail"
CSV_V1 = DATA / "detail_export_type_ps_enus.csv"
CSV_V2 = DATA / "detail_v2_iso_utc.csv"
GRAPH_DOC = DATA / "graph_details_by_recipient_documented.json"
GRAPH_RCPT = DATA / "graph_details_by_recipient_with_recipient.json"
BETA = DATA / "graph_beta_recipients_events.json"
MID = "sim-20240305-0007@phish-sim.example"
TRACE = "0f1e2d3c-4b5a-4697-a8b9-08dc3cf0c001"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


PS_JSON_ITEMS = [
    {"Organization": "contoso.onmicrosoft.com", "MessageId": "<a@B.example>", "MessageTraceId": TRACE,
     "RecipientAddress": "Zoe@contoso.com", "SenderAddress": "x@phish-sim.example",
     "Date": "/Date(1709633531000)/", "Event": "Receive", "Action": None, "Detail": "Message received", "Data": ""},
    {"Organization": "contoso.onmicrosoft.com", "MessageId": "<a@B.example>", "MessageTraceId": TRACE,
     "RecipientAddress": "Zoe@contoso.com", "SenderAddress": "x@phish-sim.example",
     "Date": "/Date(1709633532000)/", "Event": "Deliver", "Action": None, "Detail": "Delivered", "Data": ""},
]


@pytest.fixture(scope="module")
def extra_files(tmp_path_factory):
    """Variants written from the samples: JSON lines of ConvertTo-Json objects, and a `;`-separated CSV."""
    folder = tmp_path_factory.mktemp("detail")
    jsonl = folder / "detail.jsonl"
    jsonl.write_text("\n".join(json.dumps(i) for i in PS_JSON_ITEMS) + "\n", encoding="utf-8")
    semicolon = folder / "detail_semicolon.csv"
    rows = list(csv.reader(io.StringIO(CSV_V2.read_text(encoding="utf-8"))))
    buf = io.StringIO()
    csv.writer(buf, delimiter=";", quoting=csv.QUOTE_ALL, lineterminator="\r\n").writerows(rows)
    semicolon.write_text(buf.getvalue(), encoding="utf-8")
    return {"jsonl": jsonl, "semicolon": semicolon}


@pytest.fixture(scope="module")
def loaded(extra_files):
    w = Workspace(":memory:")
    for customer, path in [("v1", CSV_V1), ("v2", CSV_V2), ("graph", GRAPH_DOC), ("graph-rcpt", GRAPH_RCPT),
                           ("beta", BETA), *extra_files.items()]:
        w.ingest(customer, [path])
    yield w
    w.close()


@pytest.fixture(scope="module")
def empty():
    w = Workspace(":memory:")
    yield w
    w.close()


def events(ws, customer, **where):
    clause = " AND ".join(["customer = ?", *(f"{k} = ?" for k in where)])
    return ws.sql(f"SELECT * FROM stg_m365_trace_detail WHERE {clause} ORDER BY source_row",
                  [customer, *where.values()]).to_dicts()


def claimed_by(path: Path) -> list[str]:
    return [l.name for l in registry.claimants(path.read_bytes()[: textio.HEAD_BYTES])]


def assert_nothing_loaded(ws):
    assert ws.sql("SELECT count(*) AS n FROM raw_m365_trace_detail")["n"][0] == 0
    assert ws.sql("SELECT count(*) AS n FROM load_manifest")["n"][0] == 0


# -- cmdlet CSV exports -------------------------------------------------------------------------

CSV_EXPECTED = [
    # recipient, raw_status, action, location
    ("alice@contoso.com", "Receive", "received", None),
    ("alice@contoso.com", "Deliver", "delivered", "inbox"),
    ("bob@contoso.com", "Spam", "junked", "junk"),
    ("carol@contoso.com", "Quarantine / Quarantine", "quarantined", "quarantine"),
    ("dave@contoso.com", "Fail", "bounced", None),
    ("erin@contoso.com", "Defer", "deferred", None),
    ("frank@contoso.com", "Drop", "dropped", "none"),
    ("grace@contoso.com", "Transport rule / Delete", "dropped", "deleted"),
    ("heidi@contoso.com", "Transport rule / RejectMessage", "rejected", None),
    ("ivan@contoso.com", "Transport rule / SetScl", "received", None),
    ("judy@contoso.com", "Send", "relayed", "external"),
    ("ken@contoso.com", "Expand", "received", None),
    ("ken@contoso.com", "Resolve", "received", None),
    ("ken@contoso.com", "Transfer", "received", None),
    ("leo@contoso.com", "Malware / Quarantine", "quarantined", "quarantine"),
]


@pytest.mark.parametrize("recipient,raw_status,action,location", CSV_EXPECTED)
def test_csv_mapping(loaded, recipient, raw_status, action, location):
    rows = events(loaded, "v1", recipient=recipient, raw_status=raw_status)
    assert [(r["action"], r["location"]) for r in rows] == [(action, location)]
    assert (rows[0]["hop"], rows[0]["verdict_hop"]) == ("server", "server")


def test_csv_values_en_us_dates(loaded):
    rows = events(loaded, "v1")
    assert rows[0]["source_row"] == 3  # after the #TYPE line and the header
    assert {r["message_id"] for r in rows} == {MID}
    assert {r["vendor_id"] for r in rows} == {TRACE}
    assert {r["sender"] for r in rows} == {"hr-notice@phish-sim.example"}
    assert rows[0]["event_ts"] == utc(2024, 3, 5, 10, 20, 1)
    [rule] = events(loaded, "v1", recipient="grace@contoso.com")
    assert rule["event_ts"] == utc(2024, 3, 5, 22, 20, 2)  # 10:20:02 PM
    assert "Block parcel lures" in rule["reason"] and "Delete" in rule["reason"]
    [fail] = events(loaded, "v1", recipient="dave@contoso.com")
    assert "550 5.1.10 RESOLVER.ADR.RecipientNotFound" in fail["reason"]


def test_csv_v2_iso_dates(loaded):
    got = [(r["recipient"], r["action"], r["event_ts"]) for r in events(loaded, "v2")]
    assert got == [
        ("alice@contoso.com", "received", utc(2024, 3, 5, 10, 20, 1, 450000)),
        ("alice@contoso.com", "delivered", utc(2024, 3, 5, 10, 20, 3, 120000)),
        ("bob@contoso.com", "junked", utc(2024, 3, 5, 10, 20, 2)),
    ]


# -- Graph JSON ---------------------------------------------------------------------------------

def test_graph_documented_shape_has_no_recipient(loaded):
    got = [(r["source_row"], r["recipient"], r["action"], r["event_ts"], r["vendor_id"], r["message_id"])
           for r in events(loaded, "graph")]
    assert got == [
        (1, None, "received", utc(2024, 3, 5, 11, 30, 5), "7e3b2b2e-1b5e-4b17-80cc-2af6c1d9a3b1",
         "sim-20240305-0008@phish-sim.example"),
        (2, None, "delivered", utc(2024, 3, 5, 11, 30, 10), "7e3b2b2e-1b5e-4b17-80cc-2af6c1d9a3b1",
         "sim-20240305-0008@phish-sim.example"),
    ]


def test_graph_with_top_level_recipient(loaded):
    got = [(r["recipient"], r["action"], r["location"]) for r in events(loaded, "graph-rcpt")]
    assert got == [("robert@contoso.com", "received", None), ("robert@contoso.com", "junked", "junk"),
                   ("robert@contoso.com", "delivered", "inbox")]


def test_graph_beta_recipients_events(loaded):
    got = [(r["recipient"], r["raw_status"], r["action"], r["event_ts"]) for r in events(loaded, "beta")]
    assert got == [
        ("user2@contoso.com", "receive", "received", utc(2024, 3, 5, 12, 0, 23, 817000)),
        ("user2@contoso.com", "spam", "junked", utc(2024, 3, 5, 12, 0, 24, 453000)),
        ("user2@contoso.com", "deliver", "delivered", utc(2024, 3, 5, 12, 0, 25, 403000)),
        ("user2@contoso.com", "send", "relayed", utc(2024, 3, 5, 12, 0, 26, 378000)),
        ("user3@contoso.com", "receive", "received", utc(2024, 3, 5, 12, 0, 23, 900000)),
        ("user3@contoso.com", "fail", "bounced", utc(2024, 3, 5, 12, 0, 24, 100000)),
    ]
    row = events(loaded, "beta")[1]
    assert row["vendor_id"] == "2e3c0fac-4669-4e4a-2669-08d5dd529cbe"
    assert row["message_id"] == "sim-20240305-0009@phish-sim.example"
    assert row["subject"] == "Benefits enrolment closes today"
    assert row["sender"] == "hr-notice@phish-sim.example"
    assert row["reason"] == "Sent to Junk Folder"


def test_json_lines_and_powershell_dates(loaded, extra_files):
    assert claimed_by(extra_files["jsonl"]) == ["m365_trace_detail"]
    got = [(r["source_row"], r["recipient"], r["action"], r["event_ts"], r["message_id"]) for r in events(loaded, "jsonl")]
    assert got == [
        (1, "zoe@contoso.com", "received", utc(2024, 3, 5, 10, 12, 11), "a@b.example"),
        (2, "zoe@contoso.com", "delivered", utc(2024, 3, 5, 10, 12, 12), "a@b.example"),
    ]


def test_semicolon_separated_csv(loaded, extra_files):
    assert claimed_by(extra_files["semicolon"]) == ["m365_trace_detail"]
    got = [(r["recipient"], r["action"], r["event_ts"]) for r in events(loaded, "semicolon")]
    assert got == [(r["recipient"], r["action"], r["event_ts"]) for r in events(loaded, "v2")]
    assert [r["action"] for r in events(loaded, "semicolon")] == ["received", "delivered", "junked"]


# -- sniffing -----------------------------------------------------------------------------------

def test_samples_claimed_only_by_this_loader():
    for path in sorted(DATA.glob("*.*")):
        if path.suffix != ".md":
            assert claimed_by(path) == ["m365_trace_detail"], path


def test_does_not_claim_message_trace_or_other_fixtures(real):
    for path in sorted(real.rglob("*")):
        if path.is_file() and path.name != "PROVENANCE.md":
            assert "m365_trace_detail" not in claimed_by(path), path


def test_plain_trace_csv_and_graph_list_not_claimed(tmp_path):
    trace_csv = tmp_path / "trace.csv"
    trace_csv.write_text('"Organization","MessageId","Received","SenderAddress","RecipientAddress","Subject","Status",'
                         '"ToIP","FromIP","Size","MessageTraceId","StartDate","EndDate","Index"\r\n', encoding="utf-8")
    graph_list = tmp_path / "traces.json"
    graph_list.write_text(json.dumps({"value": [{"id": "4451a062-48cb-e80d-e8c0-196330437ae6",
                                                 "senderAddress": "s@contoso.com", "recipientAddress": "r@contoso.com",
                                                 "messageId": "<d@contoso.com>", "receivedDateTime": "2025-06-13T10:30:00Z",
                                                 "subject": "Q", "size": 1, "fromIP": "", "toIP": "",
                                                 "status": "Delivered"}]}), encoding="utf-8")
    assert "m365_trace_detail" not in claimed_by(trace_csv)
    assert "m365_trace_detail" not in claimed_by(graph_list)


# -- bad input ----------------------------------------------------------------------------------

def test_csv_without_event_column(empty, tmp_path):
    bad = tmp_path / "no_event.csv"
    bad.write_text('"Date","MessageId","Status"\r\n"3/5/2024 10:20:01 AM","<a@b>","Delivered"\r\n', encoding="utf-8")
    with pytest.raises(InputError) as err:
        empty.ingest("acme", [f"{bad}:m365_trace_detail"])
    assert err.value.line == 1 and "Event" in err.value.message
    assert_nothing_loaded(empty)


def test_csv_truncated_line(empty, tmp_path):
    lines = CSV_V2.read_text(encoding="utf-8").splitlines()
    bad = tmp_path / "trunc.csv"
    bad.write_text("\r\n".join(lines[:3] + [lines[3][:60] + '"']) + "\r\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        empty.ingest("acme", [bad])
    assert err.value.line == 4 and "fields" in err.value.message
    assert_nothing_loaded(empty)


def test_csv_bad_date(empty, tmp_path):
    lines = CSV_V2.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].replace("2024-03-05T10:20:03.1200000Z", "05.03.2024 10:20:03")
    bad = tmp_path / "baddate.csv"
    bad.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        empty.ingest("acme", [bad])
    assert err.value.line == 3 and "date" in err.value.message
    assert_nothing_loaded(empty)


def test_json_bad_date_and_broken_json(empty, tmp_path):
    doc = json.loads(GRAPH_DOC.read_text(encoding="utf-8"))
    doc["value"][1]["dateTime"] = "yesterday"
    bad = tmp_path / "baddate.json"
    bad.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    with pytest.raises(InputError) as err:
        empty.ingest("acme", [bad])
    assert err.value.line == 2 and "date" in err.value.message
    broken = tmp_path / "broken.json"
    broken.write_text(GRAPH_DOC.read_text(encoding="utf-8")[:300], encoding="utf-8")
    with pytest.raises(InputError) as err:
        empty.ingest("acme", [f"{broken}:m365_trace_detail"])
    assert "JSON" in err.value.message and err.value.line is not None
    not_objects = tmp_path / "strings.json"
    not_objects.write_text('{"value": ["Receive", "Deliver"]}', encoding="utf-8")
    with pytest.raises(InputError) as err:
        empty.ingest("acme", [f"{not_objects}:m365_trace_detail"])
    assert err.value.line == 1
    assert_nothing_loaded(empty)
