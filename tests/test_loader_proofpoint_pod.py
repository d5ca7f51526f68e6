"""Tests of the proofpoint_pod_json loader and stg_proofpoint_pod_json.

Real fixture (../shared/fixtures/real/proofpoint_pod/elastic-test-mail.EXCERPT.log): four maillog
records from Elastic's PoD test log, with hand-edited `ts` values that disagree with `data`.

Own samples in tests/data/proofpoint_pod (see its README.md):
* formats_md_samples.jsonl: the verbatim samples printed in reference/formats.md §2.1.1 (Sample A,
  Sample B) and §2.1.2 (maillog), copied unchanged.
* verdicts.jsonl: records written field by field after formats.md §2.1.1-2.1.2, one per vendor value mapped.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from phishtrace import registry, textio
from phishtrace.errors import InputError

DATA = Path(__file__).parent / "data" / "proofpoint_pod"
UTC = timezone.utc
FMT = "proofpoint_pod_json"
COLS = ("source_row, verdict_hop, event_ts, message_id, vendor_id, sender, recipient, subject, action, "
        "location, reason, raw_status, token")

GOOD_MAILLOG = (
    '{"data":"2024-03-04T09:10:01.000000-08:00 m1 sendmail[1]: 42L0001: to=<a@corp.example>, mailer=esmtp, '
    'relay=mx.corp.example., dsn=2.0.0, stat=Sent (Ok)","sm":{"qid":"42L0001","to":["<a@corp.example>"],'
    '"mailer":"esmtp","relay":"mx.corp.example.","dsn":"2.0.0","stat":"Sent (Ok)"},"ts":"2024-03-04T09:10:01.000000-0800"}'
)


def events(ws, load_id=None):
    where = "" if load_id is None else f"WHERE load_id = {int(load_id)}"
    return ws.sql(f"SELECT {COLS} FROM stg_proofpoint_pod_json {where} ORDER BY load_id, source_row, recipient").rows(
        named=True)


def counts(ws):
    return tuple(ws.sql(f"SELECT count(*) AS n FROM {t}")["n"][0]
                 for t in ("raw_proofpoint_pod_json", "load_manifest", "load_rejects"))


# -- real fixture ----------------------------------------------------------------------------

def test_real_maillog_excerpt_values(ws, real):
    (res,) = ws.ingest("c", [real / "proofpoint_pod" / "elastic-test-mail.EXCERPT.log"])
    assert (res.format, res.hop, res.rows, res.rejects) == (FMT, "filter", 4, 0)
    rows = events(ws)
    assert [r["source_row"] for r in rows] == [1, 2, 3, 4]
    r1, r2, r3, r4 = rows
    # line 1: ts "2023-08-17T14:54:12.949180-07:00" (colon offset); mailer=*file*: a local copy
    assert r1["event_ts"] == datetime(2023, 8, 17, 21, 54, 12, 949180, tzinfo=UTC)
    assert (r1["vendor_id"], r1["recipient"], r1["action"], r1["location"]) == (
        "ABcDqYbx123123", "jack@example.com", "received", None)
    # line 2: ts "2024-02-15T05:25:41.855197-0700" wins over data's 2024-06-19; esmtp Sent = relayed
    assert r2["event_ts"] == datetime(2024, 2, 15, 12, 25, 41, 855197, tzinfo=UTC)
    assert (r2["vendor_id"], r2["recipient"], r2["action"], r2["location"], r2["verdict_hop"]) == (
        "45JCABCD123123", "mailive@example.com", "relayed", "external", "filter")
    assert r2["raw_status"] == "Sent (Ok: queued) dsn=2.0.0"
    # line 3: the from= line carries the Message-ID and the sender, no recipient
    msgid = "171012345678974.123456.3315712345678901186@test.example.net"
    assert r3["event_ts"] == datetime(2024, 6, 25, 12, 28, 32, 325542, tzinfo=UTC)
    assert (r3["message_id"], r3["sender"], r3["recipient"], r3["action"]) == (
        msgid, "mailive@example.com", None, "received")
    # line 4: mailer=relay Sent, same qid: Message-ID and sender come from line 3
    assert r4["event_ts"] == datetime(2024, 3, 19, 12, 28, 32, 533564, tzinfo=UTC)
    assert (r4["vendor_id"], r4["message_id"], r4["sender"], r4["recipient"], r4["action"]) == (
        "45ABSW12341234", msgid, "mailive@example.com", "mailive@example.com", "relayed")
    raw = ws.sql("SELECT record_type, qid, sm_mailer, sm_dsn FROM raw_proofpoint_pod_json ORDER BY source_row").rows()
    assert raw == [("maillog", "ABcDqYbx123123", "*file*", "2.0.0"), ("maillog", "45JCABCD123123", "esmtp", "2.0.0"),
                   ("maillog", "45ABSW12341234", None, None), ("maillog", "45ABSW12341234", "relay", "2.0.0")]


def test_real_fixture_claimed_only_by_this_loader_and_no_other_real_file(real):
    own = real / "proofpoint_pod" / "elastic-test-mail.EXCERPT.log"
    for path in sorted(p for p in real.rglob("*") if p.is_file()):
        head = path.read_bytes()[: textio.HEAD_BYTES]
        claimed = FMT in [l.name for l in registry.claimants(head)]
        assert claimed == (path == own), path


# -- formats.md verbatim samples -------------------------------------------------------------

def test_formats_md_samples(ws):
    ws.ingest("c", [DATA / "formats_md_samples.jsonl"])
    a, b, m = events(ws)
    # Sample A: discard + Phish quarantine (delivered.rcpts is filled in, yet it is not delivered)
    assert a["event_ts"] == datetime(2022, 9, 12, 1, 28, 19, 902627, tzinfo=UTC)
    assert (a["action"], a["location"], a["reason"], a["verdict_hop"]) == ("quarantined", "quarantine", "Phish", "filter")
    assert (a["vendor_id"], a["message_id"], a["sender"], a["recipient"]) == (
        "5PVdahx3PMGFONShVUQ19uni34-uVQRm", "20220912092800466772@example.net", "user1@example.net",
        "ceo@exec.vogon.science")
    assert a["subject"] == "ANONYMIZED"  # normalizedHeader before header ("REDACTED")
    # Sample B: continue = passed to the next hop
    assert b["event_ts"] == datetime(2022, 9, 23, 0, 6, 53, 370514, tzinfo=UTC)
    assert (b["action"], b["location"], b["message_id"], b["recipient"], b["vendor_id"]) == (
        "passed", None, "user11@example.net", "user2@example.net", "xjin0zM1KZbSWy8mUJvOxTV7WqFRrbd1")
    # maillog *file* line to "REDACTED": a local copy, no usable recipient
    assert m["event_ts"] == datetime(2022, 8, 26, 0, 6, 21, 935763, tzinfo=UTC)
    assert (m["action"], m["recipient"], m["vendor_id"]) == ("received", None, "27PNO8ta032355")
    raw = ws.sql("SELECT qid, final_action, final_module, final_rule, final_source, quarantine_folder, "
                 "quarantine_rule, x_mailer, route_direction, recipient FROM raw_proofpoint_pod_json "
                 "ORDER BY source_row").rows()
    # final_* derived from the filter.actions entry with isFinal
    assert raw[0] == ("3jgptm9dux-1", "discard", "spam", "phish", "actions", "Phish", "phish", "Xwstoxzpk 1",
                      "internal", "ceo@exec.vogon.science")
    assert raw[1][:5] == ("28MNsFLm006936", "continue", "av", "clean", "actions")
    assert raw[2][-1] == "REDACTED"


# -- own samples: every vendor value -----------------------------------------------------------

def test_every_vendor_value_is_mapped(ws):
    (res,) = ws.ingest("c", [DATA / "verdicts.jsonl"])
    assert (res.rows, res.rejects) == (18, 0)
    got = {(r["source_row"], r["recipient"]): (r["action"], r["location"], r["verdict_hop"]) for r in events(ws)}
    assert got == {
        (1, "alice@corp.example"): ("rejected", None, "filter"),        # disposition reject
        (2, "carol@corp.example"): ("deferred", None, "filter"),        # retry
        (3, "dave@corp.example"): ("dropped", None, "filter"),          # discard, no quarantine
        (4, "erin@corp.example"): ("passed", None, "filter"),           # continue + audit copy
        (5, "frank@corp.example"): ("rejected", None, "filter"),        # top-level final_action overrides continue
        (6, "grace@corp.example"): ("passed", None, "filter"),          # accept, two recipients
        (6, "heidi@corp.example"): ("passed", None, "filter"),
        (7, "ivan@corp.example"): ("passed", None, "filter"),
        (8, None): ("received", None, "filter"),                        # from= line
        (9, "bob@corp.example"): ("relayed", "external", "filter"),     # esmtp Sent
        (10, "nobody@corp.example"): ("bounced", None, "server"),       # 5.1.1 from the next hop
        (11, "judy@corp.example"): ("deferred", None, "filter"),        # 4.4.1
        (12, "kim@corp.example"): ("deferred", None, "filter"),         # stat=Deferred, no dsn
        (13, None): ("received", None, "filter"),                       # *file* to /dev/null
        (14, "leo@corp.example"): ("relayed", "external", "filter"),    # relay mailer, two to= recipients
        (14, "mia@corp.example"): ("relayed", "external", "filter"),
        (15, "nina@corp.example"): ("relayed", "external", "filter"),
        (16, "olga@corp.example"): ("dropped", None, "filter"),         # discard + audit copy only
    }


def test_message_values_reason_and_ids(ws):
    ws.ingest("c", [DATA / "verdicts.jsonl"])
    rows = {(r["source_row"], r["recipient"]): r for r in events(ws)}
    first = rows[(1, "alice@corp.example")]
    # "2024-03-04T09:00:00.000001-0800"
    assert first["event_ts"] == datetime(2024, 3, 4, 17, 0, 0, 1, tzinfo=UTC)
    assert (first["message_id"], first["vendor_id"], first["sender"], first["subject"]) == (
        "r1@phish.example", "G-REJECT-000000000000000000000001", "sim@phish.example", "Reset your password")
    assert (first["reason"], first["raw_status"]) == ("spam.phish", "reject")
    assert rows[(2, "carol@corp.example")]["event_ts"] == datetime(2024, 3, 4, 17, 1, tzinfo=UTC)  # -08:00 form
    assert rows[(3, "dave@corp.example")]["event_ts"] == datetime(2024, 3, 4, 17, 2, 0, 500000, tzinfo=UTC)
    audit = rows[(4, "erin@corp.example")]
    assert "audit copy in Bulk" in audit["reason"] and audit["location"] is None
    top = rows[(5, "frank@corp.example")]
    assert (top["raw_status"], top["reason"]) == ("reject", "dmarc.dmarc_reject")
    raw = ws.sql("SELECT disposition, final_action, final_source FROM raw_proofpoint_pod_json WHERE source_row = 5")
    assert raw.rows() == [("continue", "reject", "top-level")]
    # only msg.header.message-id: brackets stripped, domain lower-cased, local part kept
    assert rows[(6, "heidi@corp.example")]["message_id"] == "M6.1@phish.example"


def test_gophish_token_from_urls(ws):
    ws.ingest("c", [DATA / "verdicts.jsonl"])
    tokens = {(r["source_row"], r["recipient"]): r["token"] for r in events(ws) if r["token"]}
    # rid=AbC1234 in a plain URL; rid%3DZz9Yy8X inside a URL Defense link (grid=ABCDEFG is not a rid)
    assert tokens == {(6, "grace@corp.example"): "AbC1234", (6, "heidi@corp.example"): "AbC1234",
                      (7, "ivan@corp.example"): "Zz9Yy8X"}
    x_mailer = ws.sql("SELECT DISTINCT x_mailer FROM raw_proofpoint_pod_json WHERE source_row = 6")["x_mailer"].to_list()
    assert x_mailer == ["gophish"]


def test_maillog_values_qid_join_and_time(ws):
    ws.ingest("c", [DATA / "verdicts.jsonl"])
    rows = {(r["source_row"], r["recipient"]): r for r in events(ws)}
    relayed = rows[(9, "bob@corp.example")]
    # to= line: Message-ID and sender taken from the from= line of queue id 42L0008
    assert (relayed["vendor_id"], relayed["message_id"], relayed["sender"]) == (
        "42L0008", "m8@phish.example", "sim@phish.example")
    assert relayed["event_ts"] == datetime(2024, 3, 4, 17, 10, 1, tzinfo=UTC)
    bounce = rows[(10, "nobody@corp.example")]
    assert bounce["raw_status"] == "User unknown dsn=5.1.1"
    assert "relay=mx.corp.example." in bounce["reason"]
    assert "to=/dev/null" in rows[(13, None)]["reason"]
    # no ts: the time at the start of `data`, "2024-03-04T09:16:00.250000-08:00"
    assert rows[(15, "nina@corp.example")]["event_ts"] == datetime(2024, 3, 4, 17, 16, 0, 250000, tzinfo=UTC)


def test_rows_reach_int_mail_events(ws):
    ws.ingest("c", [DATA / "verdicts.jsonl"])
    got = ws.sql("SELECT hop, verdict_hop, action, recipient FROM int_mail_events "
                 "WHERE source_format = ? AND source_row = 10", [FMT]).rows()
    assert got == [("filter", "server", "bounced", "nobody@corp.example")]


def test_window_is_min_max_event_time(ws):
    ws.ingest("c", [DATA / "formats_md_samples.jsonl"])
    start, end = ws.sql("SELECT window_start, window_end FROM load_manifest").rows()[0]
    assert start == datetime(2022, 8, 26, 0, 6, 21, 935763, tzinfo=UTC)
    assert end == datetime(2022, 9, 23, 0, 6, 53, 370514, tzinfo=UTC)


def test_one_bad_line_in_a_large_file_is_a_reject(ws, tmp_path):
    path = tmp_path / "big.jsonl"
    path.write_text("\n".join([GOOD_MAILLOG] * 150 + ['{"sm":{"qid":"x"'] + [GOOD_MAILLOG]) + "\n")
    (res,) = ws.ingest("c", [path])
    assert (res.rows, res.rejects) == (151, 1)
    assert ws.sql("SELECT line FROM load_rejects")["line"].to_list() == [151]


# -- bad input -------------------------------------------------------------------------------

BAD = {
    "truncated": (GOOD_MAILLOG + "\n" + GOOD_MAILLOG[:80] + "\n", 2, "not a JSON object"),
    "not_json": (GOOD_MAILLOG + "\n" + GOOD_MAILLOG + "\nsendmail[1]: stat=Sent\n", 3, "not a JSON object"),
    "bad_ts": (GOOD_MAILLOG.replace("2024-03-04T09:10:01.000000-0800", "yesterday at noon") + "\n", 1, "bad 'ts'"),
    "no_ts": ('{"guid":"g","envelope":{"rcpts":["a@b.example"]},"filter":{"disposition":"accept"}}\n', 1, "no 'ts'"),
    "other_record": (GOOD_MAILLOG + '\n{"guid_like":1,"data":"x"}\n', 2, "neither a message record"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_names_the_line_and_loads_nothing(ws, tmp_path, case):
    ws.ingest("c", [DATA / "formats_md_samples.jsonl"])
    before = counts(ws)
    text, line, expected = BAD[case]
    path = tmp_path / f"{case}.jsonl"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        ws.ingest("c", [f"{path}:{FMT}"])
    assert err.value.line == line and err.value.path == str(path)
    assert expected in err.value.message
    assert f"{path}:{line}" in str(err.value)
    assert counts(ws) == before


def test_empty_file_is_refused(ws, tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("\n\n")
    with pytest.raises(InputError) as err:
        ws.ingest("c", [f"{path}:{FMT}"])
    assert err.value.line == 1 and "empty" in err.value.message
    assert counts(ws) == (0, 0, 0)


def test_sniff_needs_pod_keys():
    loader = registry.get(FMT)
    assert loader.sniff(b"", GOOD_MAILLOG)
    assert loader.sniff(b"", '{"guid":"g","ts":"t","envelope":{},"filter":{}}')
    assert not loader.sniff(b"", '{"GUID":"g","QID":"q","messageID":"<m@x>","sender":"s"}')  # TAP / Smart Search
    assert not loader.sniff(b"", '{"data":"x","id":"y"}')
    # a first record longer than the sniffed head, msgParts first (as in Elastic's message fixture)
    assert loader.sniff(b"", '{"msgParts":[{"dataBase64":"QUFB"}],"connection":{"ip":"192.0.2.1"')
    assert not loader.sniff(b"", "Date,Sender,Recipient\n")
