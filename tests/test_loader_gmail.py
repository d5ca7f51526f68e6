"""Tests of the gmail_bigquery_json and gmail_els_csv loaders and their staging views.

Real fixture (../shared/fixtures/real/gmail): the first row of Elastic's Gmail-in-BigQuery test log,
BigQuery REST `f`/`v` cells with the schema, formats.md §3.5.1.

Own samples in tests/data/gmail (see its README), each following formats.md:
* bigquery_export.ndjson, bq_query_prettyjson.json, rest_query_response.json: §3.5.1 fields in the
  NDJSON export, `bq --format=prettyjson` and `getQueryResults` shapes.
* els_export.csv: Email Log Search CSV, §3.5.2. No public sample of this export exists; the file is
  written from the documented export fields and status texts (UNCERTAIN parts listed in the README).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from phishtrace import registry, textio
from phishtrace.errors import InputError

DATA = Path(__file__).parent / "data" / "gmail"
UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
BQ = "gmail_bigquery_json"
ELS = "gmail_els_csv"
COLS = ("source_row, event_ts, message_id, vendor_id, sender, recipient, subject, action, location, "
        "verdict_hop, reason, raw_status, url, token")
SIM = "sim-0001@sim-phish.example.net"


def ts(*parts) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def events(ws, view):
    return ws.sql(f"SELECT {COLS} FROM {view} ORDER BY load_id, source_row, recipient NULLS FIRST").rows(named=True)


def by_recipient(rows):
    return {r["recipient"]: r for r in rows}


def assert_nothing_loaded(ws, fmt):
    assert ws.sql(f"SELECT count(*) AS n FROM raw_{fmt}")["n"][0] == 0
    assert ws.sql("SELECT count(*) AS n FROM load_manifest")["n"][0] == 0
    assert ws.sql("SELECT count(*) AS n FROM load_rejects")["n"][0] == 0


def claims(path: Path) -> list[str]:
    head = path.read_bytes()[: textio.HEAD_BYTES]
    return [l.name for l in registry.claimants(head)]


# -- gmail_bigquery_json: real fixture ------------------------------------------------------------

def test_real_rest_row_decoded_by_schema(ws, real):
    path = real / "gmail" / "elastic_google_workspace_test-gmail.first-row.json"
    (res,) = ws.ingest("c", [path])
    assert (res.format, res.hop, res.rows, res.rejects) == (BQ, "server", 1, 0)
    (row,) = events(ws, "stg_gmail_bigquery_json")
    # event_info.timestamp_usec "1746430039747736" is epoch microseconds, UTC
    assert row["event_ts"] == EPOCH + timedelta(microseconds=1746430039747736)
    assert row["message_id"] == "tReN0du38BwRVHK2coef9w@notifications.elastic.com"
    assert row["sender"] == ("3v2gyacikana9ad0b7k-wbbe-eyd4bfe-9af414ywf4a9e2aa270.ya8"
                             "@chime-notifications-apps.bounces.elastic.com")
    assert row["recipient"] == "woof@example.com"
    assert row["subject"] == "Summary of failures for Google Apps Script: Sync users to Table (elastic)"
    # type 0, success true, destination service gmail-ui: in the mailbox
    assert (row["action"], row["location"], row["verdict_hop"]) == ("delivered", "inbox", "server")
    assert row["raw_status"] == "mail_event_type=0 action_type=68 success=true is_spam=false service=gmail-ui"
    raw = ws.sql("SELECT * FROM raw_gmail_bigquery_json").rows(named=True)[0]
    assert raw["from_header_address"] == "noreply-apps-scripts-notifications@elastic.com"
    assert raw["source_service"] == "smtp-inbound"
    assert raw["smtp_reply_code"] == "250"
    assert raw["rcpt_response"] == "1"
    assert raw["description"] == "250 2.0.0 OK"
    (m,) = ws.sql("SELECT window_start, window_end, tz_assumption FROM load_manifest").rows(named=True)
    assert m["window_start"] == m["window_end"] == row["event_ts"]


def test_real_fixture_claimed_only_by_gmail(real):
    assert claims(real / "gmail" / "elastic_google_workspace_test-gmail.first-row.json") == [BQ]


def test_sniffs_claim_no_other_real_fixture(real):
    for path in sorted(real.rglob("*")):
        if path.is_file() and path.parent.name != "gmail" and path.name != "PROVENANCE.md":
            found = claims(path)
            assert BQ not in found and ELS not in found, path


# -- gmail_bigquery_json: own samples -------------------------------------------------------------

def test_ndjson_export_maps_every_event_type(ws):
    (res,) = ws.ingest("c", [DATA / "bigquery_export.ndjson"])
    assert (res.format, res.rows, res.rejects) == (BQ, 15, 0)
    rows = events(ws, "stg_gmail_bigquery_json")
    got = {(r["source_row"], r["recipient"]): (r["action"], r["location"], r["verdict_hop"]) for r in rows}
    assert got == {
        (1, "alice@customer.example"): ("received", None, "server"),  # type 2, no mailbox destination
        (2, "alice@customer.example"): ("delivered", "inbox", "server"),  # type 0 to gmail-ui
        (3, "bob@customer.example"): ("junked", "junk", "server"),  # is_spam true, one row per destination
        (3, "carol@customer.example"): ("junked", "junk", "server"),
        (4, "dave@customer.example"): ("quarantined", "quarantine", "server"),  # type 5
        (5, "dave@customer.example"): ("released", None, "server"),  # type 6
        (6, "erin@customer.example"): ("junked", "junk", "server"),  # type 4, spam after delivery
        (7, "erin@customer.example"): ("delivered", "inbox", "mailbox"),  # type 12, moved to Inbox
        (8, "frank@customer.example"): ("moved_by_rule", "deleted", "mailbox"),  # type 13, Trash
        (9, "grace@customer.example"): ("clicked", None, "mailbox"),  # type 15
        (10, "heidi@customer.example"): ("junked", "junk", "server"),  # spam destination service
        (11, "ivan@customer.example"): ("rejected", "none", "server"),  # success false
        (12, "judy@partner.example"): ("relayed", "external", "server"),  # smtp-outbound
        (13, "alice@customer.example"): ("received", None, "server"),  # type 3, user marked spam
        (14, None): ("received", None, "server"),  # no destination at all
    }
    first = rows[0]
    assert first["event_ts"] == ts(2026, 3, 2, 9, 0, 1, 250000)
    assert first["message_id"] == SIM
    assert first["sender"] == "bounce+7f3a@sim-phish.example.net"  # envelope source.address first
    assert first["subject"] == "Action required: password expiry"
    assert rows[1]["event_ts"] == ts(2026, 3, 2, 9, 0, 2, 500001)
    released = next(r for r in rows if r["source_row"] == 5)
    assert released["sender"] == "it-support@sim-phish.example.net"  # falls back to from_header_address
    clicked = next(r for r in rows if r["source_row"] == 9)
    assert clicked["url"] == "https://sim-phish.example.net/login?rid=Ab12Cd3&lang=en"
    assert clicked["token"] == "Ab12Cd3"
    spam = next(r for r in rows if r["source_row"] == 3)
    assert "spam_disposition=1" in spam["raw_status"] and "is_spam=true" in spam["raw_status"]
    rejected = next(r for r in rows if r["source_row"] == 11)
    assert "Block simulation domain" in rejected["reason"] and "success=false" in rejected["raw_status"]
    last = rows[-1]
    assert last["message_id"] == "sim-0002@sim-phish.example.net"  # no brackets, domain lower-cased


def test_prettyjson_array_with_string_scalars(ws):
    (res,) = ws.ingest("c", [DATA / "bq_query_prettyjson.json"])
    assert (res.format, res.rows) == (BQ, 2)
    rows = events(ws, "stg_gmail_bigquery_json")
    assert [(r["source_row"], r["recipient"], r["action"], r["location"]) for r in rows] == [
        (1, "kim@customer.example", "delivered", "inbox"),
        (2, "leo@customer.example", "quarantined", "quarantine"),
    ]
    assert rows[0]["event_ts"] == ts(2026, 3, 3, 8, 0, 0)
    assert rows[1]["event_ts"] == ts(2026, 3, 3, 8, 0, 1)
    assert {r["message_id"] for r in rows} == {"sim-0003@sim-phish.example.net"}


def test_rest_query_response_rows_and_microseconds(ws):
    (res,) = ws.ingest("c", [DATA / "rest_query_response.json"])
    assert (res.format, res.rows) == (BQ, 2)
    rows = events(ws, "stg_gmail_bigquery_json")
    assert [(r["source_row"], r["recipient"], r["action"], r["location"]) for r in rows] == [
        (1, "mallory@customer.example", "delivered", "inbox"),
        (2, "niaj@customer.example", "junked", "junk"),  # is_spam "true" (a string in REST rows)
    ]
    assert rows[0]["event_ts"] == ts(2026, 3, 4, 7, 45, 0, 10)
    assert rows[1]["event_ts"] == ts(2026, 3, 4, 7, 45, 0, 500000)
    assert rows[0]["message_id"] == "sim-0004@sim-phish.example.net"
    assert rows[0]["sender"] == "bounce+7f3a@sim-phish.example.net"


def test_bigquery_samples_claimed_only_by_gmail():
    for name in ("bigquery_export.ndjson", "bq_query_prettyjson.json", "rest_query_response.json"):
        assert claims(DATA / name) == [BQ], name


def test_events_reach_the_mail_event_union(ws):
    ws.ingest("c", [DATA / "bigquery_export.ndjson", DATA / "els_export.csv"])
    got = ws.sql("SELECT source_format, count(*) AS n FROM int_mail_events GROUP BY 1 ORDER BY 1").rows()
    assert got == [(BQ, 15), (ELS, 15)]


# -- gmail_bigquery_json: bad input ---------------------------------------------------------------

def _ndjson_lines() -> list[str]:
    return (DATA / "bigquery_export.ndjson").read_text().splitlines()


def test_truncated_ndjson_line_fails_naming_line(ws, tmp_path):
    lines = _ndjson_lines()
    lines[3] = lines[3][: len(lines[3]) // 2]
    path = tmp_path / "cut.ndjson"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as err:
        ws.ingest("c", [path])
    assert err.value.line == 4 and "not valid JSON" in err.value.message
    assert_nothing_loaded(ws, BQ)


def test_bad_timestamp_fails_naming_line(ws, tmp_path):
    lines = _ndjson_lines()
    rec = json.loads(lines[1])
    rec["event_info"]["timestamp_usec"] = "2026-03-02T09:00:02Z"
    lines[1] = json.dumps(rec)
    path = tmp_path / "bad_ts.ndjson"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as err:
        ws.ingest("c", [path])
    assert err.value.line == 2 and "epoch" in err.value.message
    assert_nothing_loaded(ws, BQ)


def test_missing_timestamp_fails_naming_line(ws, tmp_path):
    lines = _ndjson_lines()
    rec = json.loads(lines[0])
    del rec["event_info"]["timestamp_usec"]
    lines[0] = json.dumps(rec)
    path = tmp_path / "no_ts.ndjson"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as err:
        ws.ingest("c", [path])
    assert err.value.line == 1 and "timestamp_usec" in err.value.message
    assert_nothing_loaded(ws, BQ)


def test_workspace_logs_activity_layout_is_refused(ws, tmp_path):
    # the newer activity table (formats.md §3.5.1): top-level record_type / time_usec, no event_info
    rec = {"domain_name": "customer.example", "email": "alice@customer.example", "event_name": "delivery",
           "event_type": "delivery_type", "record_type": "gmail", "time_usec": "1772442001250000"}
    path = tmp_path / "activity.json"
    path.write_text(json.dumps(rec) + "\n")
    with pytest.raises(InputError) as err:
        ws.ingest("c", [f"{path}:{BQ}"])
    assert err.value.line == 1 and "Workspace logs activity" in err.value.message
    assert_nothing_loaded(ws, BQ)


def test_rest_row_without_schema_is_refused(ws, real, tmp_path):
    doc = json.loads((real / "gmail" / "elastic_google_workspace_test-gmail.first-row.json").read_text())
    del doc["schema"]
    path = tmp_path / "no_schema.json"
    path.write_text(json.dumps(doc) + "\n")
    with pytest.raises(InputError) as err:
        ws.ingest("c", [f"{path}:{BQ}"])
    assert err.value.line == 1 and "schema" in err.value.message
    assert_nothing_loaded(ws, BQ)


def test_truncated_json_array_fails_naming_line(ws, tmp_path):
    text = (DATA / "bq_query_prettyjson.json").read_text()
    path = tmp_path / "cut.json"
    path.write_text(text[: len(text) * 2 // 3])
    with pytest.raises(InputError) as err:
        ws.ingest("c", [path])
    assert err.value.line is not None and err.value.line > 1 and "not valid JSON" in err.value.message
    assert_nothing_loaded(ws, BQ)


def test_one_bad_record_in_many_is_a_reject_not_a_failure(ws, tmp_path):
    good = _ndjson_lines()[1]
    lines = [good] * 150 + ['{"event_info": {"timestamp_usec": "x"}, "message_info": {}}']
    path = tmp_path / "many.ndjson"
    path.write_text("\n".join(lines) + "\n")
    (res,) = ws.ingest("c", [path])
    assert (res.rows, res.rejects) == (150, 1)
    (rej,) = ws.sql("SELECT line, reason FROM load_rejects").rows(named=True)
    assert rej["line"] == 151 and "epoch" in rej["reason"]


# -- gmail_els_csv ------------------------------------------------------------------------------

def test_els_sample_maps_every_status(ws):
    (res,) = ws.ingest("c", [DATA / "els_export.csv"])
    assert (res.format, res.hop, res.rows, res.rejects) == (ELS, "server", 15, 0)
    rows = by_recipient(events(ws, "stg_gmail_els_csv"))
    got = {k: (v["action"], v["location"]) for k, v in rows.items()}
    assert got == {
        "alice@customer.example": ("delivered", "inbox"),  # Delivered to Gmail inbox
        "bob@customer.example": ("bounced", "none"),  # Bounced
        "carol@customer.example": ("junked", "junk"),  # Delivered + GMAIL_SPAM
        "dave@customer.example": ("junked", "junk"),  # marked spam
        "erin@customer.example": ("quarantined", "quarantine"),
        "frank@partner.example": ("relayed", "external"),  # Delivered to an SMTP server
        "grace@customer.example": ("received", None),  # Delivered to a Google internal server
        "heidi@customer.example": ("passed", None),  # Bypassed spam
        "ivan@customer.example": ("received", None),  # Archived
        "judy@customer.example": ("received", None),  # Accepted for archiving
        "mallory@customer.example": ("rejected", "none"),  # SMTPIN_ADDED_REJECT_SESSION
        "niaj@customer.example": ("delivered", None),  # Delivered, folder unknown
        "olivia@customer.example": ("rejected", "none"),
        "peggy@customer.example": ("delivered", "inbox"),  # two recipients in one row
        "rupert@customer.example": ("delivered", "inbox"),
    }
    alice = rows["alice@customer.example"]
    assert alice["event_ts"] == ts(2026, 3, 5, 8, 15, 4)  # 09:15:04+01:00
    assert alice["message_id"] == "sim-0101@sim-phish.example.net"
    assert alice["sender"] == "it-support@sim-phish.example.net"
    assert alice["subject"] == "Action required: password expiry"
    assert alice["raw_status"] == "Delivered to Gmail inbox | GMAIL_INBOX"
    assert alice["source_row"] == 2
    assert rows["bob@customer.example"]["message_id"] == "sim-0102@sim-phish.example.net"
    assert rows["mallory@customer.example"]["message_id"] is None
    assert "Message-ID unknown" in rows["mallory@customer.example"]["reason"]
    assert rows["peggy@customer.example"]["source_row"] == rows["rupert@customer.example"]["source_row"] == 15


def test_els_sample_claimed_only_by_els():
    assert claims(DATA / "els_export.csv") == [ELS]


def _els(tmp_path, name, body_rows, header=None):
    header = header or ("Message ID,Start date,End date,Sender,Message size,Subject,Direction,Attachments,"
                        "Recipient address,Event target,Delivery status")
    path = tmp_path / name
    path.write_text(header + "\n" + "\n".join(body_rows) + "\n")
    return path


ROW = "<m1@sim.example>,{when},{when},s@sim.example,10,Hi,Received,0,a@customer.example,GMAIL_INBOX,Delivered to Gmail inbox"


def test_els_time_without_zone_needs_tz(ws, tmp_path):
    path = _els(tmp_path, "naive.csv", [ROW.format(when="2026-03-05 09:15:04")])
    with pytest.raises(InputError) as err:
        ws.ingest("c", [path])
    assert err.value.line == 2 and "--tz" in err.value.message
    assert_nothing_loaded(ws, ELS)
    ws.ingest("c", [path], tz="America/New_York")
    (row,) = events(ws, "stg_gmail_els_csv")
    assert row["event_ts"] == ts(2026, 3, 5, 14, 15, 4)  # EST, UTC-5
    assert ws.sql("SELECT tz_assumption FROM load_manifest")["tz_assumption"][0] == "America/New_York"


def test_els_us_dates_and_gmt_suffix(ws, tmp_path):
    path = _els(tmp_path, "us.csv", [ROW.format(when="3/5/2026 9:15:04 AM"),
                                      ROW.format(when="2026-03-05 09:15:04 GMT+02:00").replace("m1@", "m2@")])
    ws.ingest("c", [path], tz="UTC")
    rows = events(ws, "stg_gmail_els_csv")
    assert [r["event_ts"] for r in rows] == [ts(2026, 3, 5, 9, 15, 4), ts(2026, 3, 5, 7, 15, 4)]


def test_els_bad_timestamp_fails_naming_line(ws, tmp_path):
    path = _els(tmp_path, "bad.csv", [ROW.format(when="2026-03-05T09:15:04+01:00"),
                                       ROW.format(when="yesterday")])
    with pytest.raises(InputError) as err:
        ws.ingest("c", [path])
    assert err.value.line == 3 and "yesterday" in err.value.message
    assert_nothing_loaded(ws, ELS)


def test_els_truncated_line_fails_naming_line(ws, tmp_path):
    good = ROW.format(when="2026-03-05T09:15:04+01:00")
    path = _els(tmp_path, "cut.csv", [good, good[: len(good) // 2]])
    with pytest.raises(InputError) as err:
        ws.ingest("c", [path])
    assert err.value.line == 3 and "fields" in err.value.message
    assert_nothing_loaded(ws, ELS)


def test_els_header_without_recipient_is_refused(ws, tmp_path):
    path = _els(tmp_path, "hdr.csv", ["<m1@sim.example>,2026-03-05T09:15:04Z,x,GMAIL_INBOX,Delivered"],
                header="Message ID,Start date,Sender,Event target,Delivery status")
    assert claims(path) == []
    with pytest.raises(InputError) as err:
        ws.ingest("c", [f"{path}:{ELS}"])
    assert err.value.line == 1 and "Recipient address" in err.value.message
    assert_nothing_loaded(ws, ELS)


def test_els_header_without_status_or_target_is_refused(ws, tmp_path):
    path = _els(tmp_path, "hdr2.csv", ["<m1@sim.example>,2026-03-05T09:15:04Z,a@customer.example"],
                header="Message ID,Start date,Recipient address")
    with pytest.raises(InputError) as err:
        ws.ingest("c", [f"{path}:{ELS}"])
    assert err.value.line == 1 and "status" in err.value.message
    assert_nothing_loaded(ws, ELS)


def test_els_empty_file_is_refused(ws, tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(InputError):
        ws.ingest("c", [f"{path}:{ELS}"])
    assert_nothing_loaded(ws, ELS)
