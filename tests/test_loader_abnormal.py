"""Tests of the abnormal_threats_json loader and stg_abnormal_threats_json.

No Abnormal file is among the shared real fixtures. Own samples in tests/data/abnormal (see its
README.md), following formats.md §2.4:
* messages.ndjson: line 1 is the verbatim sample record of §2.4; then simulation messages that are
  Auto-Remediated, Post Remediated, Not Remediated, and one without recipientAddress or
  remediationStatus (toAddresses with two addresses, autoRemediated true, no remediationTimestamp);
* threat_detail.json: a pretty-printed threat detail response {"threatId", "messages": [...]}.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from phishtrace import registry, textio
from phishtrace.errors import InputError

DATA = Path(__file__).parent / "data" / "abnormal"
UTC = timezone.utc
FMT = "abnormal_threats_json"
COLS = "source_row, event_ts, verdict_hop, message_id, vendor_id, sender, recipient, subject, action, location, raw_status"
THREAT = "5a0c1e7d-1111-4a2b-9c3d-000000000001"


def ts(*parts) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def events(ws):
    return ws.sql(f"SELECT {COLS} FROM stg_abnormal_threats_json ORDER BY load_id, source_row, recipient, event_ts, action"
                  ).rows(named=True)


def assert_nothing_loaded(ws):
    for table in ("raw_abnormal_threats_json", "load_manifest", "load_rejects"):
        assert ws.sql(f"SELECT count(*) AS n FROM {table}")["n"][0] == 0, table


def claims(path: Path) -> list[str]:
    return [l.name for l in registry.claimants(path.read_bytes()[: textio.HEAD_BYTES])]


def test_verbatim_record(ws):
    path = DATA / "messages.ndjson"
    assert claims(path) == [FMT]
    [res] = ws.ingest("c1", [str(path)])
    assert (res.format, res.hop, res.rows, res.rejects) == (FMT, "mailbox", 6, 0)
    first = [e for e in events(ws) if e["source_row"] == 1]
    common = {"source_row": 1, "message_id": "b83806e3-e0a2-46e5-f9ea-58234c673a13@example.com",
              "vendor_id": "437dc979-e828-380a-52f4-98f9b1132e49", "sender": "johny@example.com",
              "recipient": "bob@example.com", "subject": "Let's Connect: Coffee Chat Next Week?",
              "location": None, "raw_status": "Auto-Remediated"}
    assert first == [
        {**common, "event_ts": ts(2024, 7, 17, 23, 35, 18), "verdict_hop": "server", "action": "delivered"},
        {**common, "event_ts": ts(2024, 7, 17, 23, 35, 24, 850565), "verdict_hop": "mailbox",
         "action": "removed_post_delivery"},
    ]


def test_every_remediation_case(ws):
    ws.ingest("c1", [str(DATA / "messages.ndjson")])
    got = [(e["source_row"], e["recipient"], e["event_ts"], e["action"], e["verdict_hop"], e["raw_status"])
           for e in events(ws) if e["source_row"] > 1]
    assert got == [
        (2, "alice@example.com", ts(2024, 7, 18, 9, 15, 2), "delivered", "server", "Auto-Remediated"),
        (2, "alice@example.com", ts(2024, 7, 18, 9, 15, 9, 120000), "removed_post_delivery", "mailbox", "Auto-Remediated"),
        (3, "carol@example.com", ts(2024, 7, 18, 9, 15, 4), "delivered", "server", "Post Remediated"),
        (3, "carol@example.com", ts(2024, 7, 18, 11, 2, 40, 500000), "removed_post_delivery", "mailbox", "Post Remediated"),
        (4, "dave@example.com", ts(2024, 7, 18, 9, 15, 5), "received", "mailbox", "Not Remediated"),
        # no status: autoRemediated true decides; no remediationTimestamp: the time of receipt
        (5, "erin@example.com", ts(2024, 7, 18, 9, 16), "delivered", "server", "autoRemediated true; postRemediated false"),
        (5, "erin@example.com", ts(2024, 7, 18, 9, 16), "removed_post_delivery", "mailbox",
         "autoRemediated true; postRemediated false"),
        (5, "frank@example.com", ts(2024, 7, 18, 9, 16), "delivered", "server", "autoRemediated true; postRemediated false"),
        (5, "frank@example.com", ts(2024, 7, 18, 9, 16), "removed_post_delivery", "mailbox",
         "autoRemediated true; postRemediated false"),
    ]
    alice = [e for e in events(ws) if e["recipient"] == "alice@example.com"][0]
    assert alice["message_id"] == "20240718091500.1@phish-sim.example"
    assert alice["sender"] == "bounce+7q2@phish-sim.example"  # returnPath, the envelope sender
    assert alice["vendor_id"] == THREAT
    reason = ws.sql("SELECT reason FROM stg_abnormal_threats_json WHERE recipient = 'alice@example.com' "
                    "AND action = 'removed_post_delivery'").item()
    assert "Abnormal Auto-Remediated" in reason and "isRead true" in reason
    man = ws.sql("SELECT window_start, window_end FROM load_manifest").rows()
    assert man == [(ts(2024, 7, 17, 23, 35, 18), ts(2024, 7, 18, 11, 2, 40, 500000))]
    union = ws.sql("SELECT count(*) FROM int_mail_events WHERE source_format = ?", [FMT]).item()
    assert union == 11


def test_threat_detail_document(ws):
    path = DATA / "threat_detail.json"
    assert claims(path) == [FMT]
    ws.ingest("c1", [str(path)])
    got = [(e["source_row"], e["recipient"], e["event_ts"], e["action"], e["vendor_id"]) for e in events(ws)]
    tid = "7e6d5c4b-2222-4a2b-9c3d-000000000003"
    assert got == [
        (1, "gina@example.com", ts(2024, 7, 19, 8, 0, 3), "delivered", tid),
        (1, "gina@example.com", ts(2024, 7, 19, 8, 0, 10, 1), "removed_post_delivery", tid),
        (2, "hank@example.com", ts(2024, 7, 19, 8, 0, 3), "delivered", tid),
        (2, "hank@example.com", ts(2024, 7, 19, 8, 0, 11, 250000), "removed_post_delivery", tid),
    ]


def test_fallback_sender_and_array(ws, tmp_path):
    record = json.loads((DATA / "messages.ndjson").read_text().splitlines()[3])  # dave, Not Remediated
    del record["returnPath"]
    path = tmp_path / "array.json"
    path.write_text(json.dumps([record], indent=1))
    ws.ingest("c1", [str(path)])
    [e] = events(ws)
    assert (e["source_row"], e["sender"], e["action"]) == (1, "it-support@phish-sim.example", "received")


def test_sniff_is_specific(real):
    loader = registry.get(FMT)
    for p in (real / "proofpoint_tap").iterdir():  # TAP records carry threatID but are not Abnormal's
        assert FMT not in claims(p)
    assert not loader.sniff(b"", '{"threats": [{"threatId": "x"}], "pageNumber": 1}')
    assert not loader.sniff(b"", "threatId,remediationStatus\n")


# -- bad input --------------------------------------------------------------------------------

def _lines() -> list[str]:
    return (DATA / "messages.ndjson").read_text().splitlines()


@pytest.mark.parametrize("body, line, words", [
    pytest.param("\n".join(_lines()[:2] + [_lines()[2][:300]] + _lines()[3:]), 3, "not valid JSON", id="truncated-line"),
    pytest.param("\n".join(_lines()[:3] + [_lines()[3].replace('"2024-07-18T09:15:05Z"', '"2024-07-18 09:15:05"')]
                           + _lines()[4:]), 4, "bad receivedTime '2024-07-18 09:15:05': expected ISO 8601 with its zone",
                 id="naive-timestamp"),
    pytest.param("\n".join(_lines()[:1] + [_lines()[1].replace('"2024-07-18T09:15:09.120000Z"', '"soon"')]
                           + _lines()[2:]), 2, "bad remediationTimestamp 'soon'", id="bad-timestamp"),
    pytest.param("\n".join(_lines()[:4] + [json.dumps({**json.loads(_lines()[4]), "toAddresses": []})]),
                 5, "toAddresses", id="no-recipient"),
    pytest.param("\n".join(_lines()[:1] + ['"just a string"'] + _lines()[2:]), 2, "JSON object", id="not-an-object"),
])
def test_bad_input_names_line_and_loads_nothing(ws, tmp_path, body, line, words):
    path = tmp_path / "bad.ndjson"
    path.write_text(body + "\n")
    with pytest.raises(InputError) as err:
        ws.ingest("c1", [f"{path}:{FMT}"])
    assert err.value.path == str(path)
    assert err.value.line == line
    assert words in err.value.message
    assert_nothing_loaded(ws)


def test_truncated_document(ws, tmp_path):
    text = (DATA / "threat_detail.json").read_text()
    path = tmp_path / "cut.json"
    path.write_text(text[: len(text) // 2])
    with pytest.raises(InputError) as err:
        ws.ingest("c1", [f"{path}:{FMT}"])
    assert err.value.line is not None and err.value.line > 1 and "not valid JSON" in err.value.message
    assert_nothing_loaded(ws)


def test_empty_file(ws, tmp_path):
    path = tmp_path / "empty.json"
    path.write_text("  \n")
    with pytest.raises(InputError) as err:
        ws.ingest("c1", [f"{path}:{FMT}"])
    assert err.value.line == 1
    assert_nothing_loaded(ws)
