"""Tests of the m365_inbox_rules_json loader and stg_m365_inbox_rules_json.

No public fixture file exists for these records. Own samples in tests/data/m365_inbox_rules (see its
README.md), following formats.md §3.3.2:
* rules.ndjson: line 1 is the verbatim New-InboxRule record of §3.3.2; then a Set-InboxRule with
  Parameters as a JSON string, New-InboxRule variants, a failed cmdlet, UpdateInboxRules records
  (AddMailboxRule with SenderSearchKey + Move, with Delete; ModifyMailboxRule with a blank body;
  RemoveMailboxRule) and one record of another operation;
* purview_audit_search.csv: the audit search CSV export (CreationDate,UserIds,Operations,AuditData);
* content_blob.json: a Management Activity API content blob (JSON array).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from phishtrace import registry, textio
from phishtrace.errors import InputError

DATA = Path(__file__).parent / "data" / "m365_inbox_rules"
UTC = timezone.utc
FMT = "m365_inbox_rules_json"
COLS = "source_row, event_ts, verdict_hop, message_id, vendor_id, sender, recipient, subject, action, location, reason, raw_status"
OBJ = ("NAMPR10A011.PROD.OUTLOOK.COM/Microsoft Exchange Hosted Organizations/M365B132131.onmicrosoft.com/"
       "f757cb79-dd91-4555-a45e-520c2525d932\\")


def ts(*parts) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def events(ws):
    return ws.sql(f"SELECT {COLS} FROM stg_m365_inbox_rules_json ORDER BY load_id, source_row").rows(named=True)


def assert_nothing_loaded(ws):
    for table in ("raw_m365_inbox_rules_json", "load_manifest", "load_rejects"):
        assert ws.sql(f"SELECT count(*) AS n FROM {table}")["n"][0] == 0, table


def claims(path: Path) -> list[str]:
    return [l.name for l in registry.claimants(path.read_bytes()[: textio.HEAD_BYTES])]


def test_verbatim_new_inboxrule_record(ws):
    [res] = ws.ingest("c1", [str(DATA / "rules.ndjson")])
    assert (res.format, res.hop, res.rejects) == (FMT, "mailbox", 0)
    first = events(ws)[0]
    assert first == {
        "source_row": 1, "event_ts": ts(2023, 9, 26, 1, 56, 15), "verdict_hop": "mailbox", "message_id": None,
        "vendor_id": OBJ + "f", "sender": "flag@ctf.com", "recipient": "debrab@m365b132131.onmicrosoft.com",
        "subject": None, "action": "rule_created", "location": "other_folder",
        "reason": "rule 'f': MoveToFolder Conversation History", "raw_status": "New-InboxRule",
    }


def test_every_rule_sample(ws):
    [res] = ws.ingest("c1", [str(DATA / "rules.ndjson")])
    # 10 lines: 9 rule records loaded raw, the MailItemsAccessed record skipped
    assert res.rows == 9
    got = [(e["source_row"], e["recipient"], e["sender"], e["subject"], e["location"], e["reason"], e["raw_status"])
           for e in events(ws)]
    assert got == [
        (1, "debrab@m365b132131.onmicrosoft.com", "flag@ctf.com", None, "other_folder",
         "rule 'f': MoveToFolder Conversation History", "New-InboxRule"),
        # Parameters as a JSON string; the rule belongs to the mailbox named in Identity; ExceptIfFrom ignored
        (2, "alexw@m365b132131.onmicrosoft.com", None, "Payroll update|Invoice", "deleted",
         "rule 'Payroll': DeleteMessage", "Set-InboxRule"),
        # FromAddressContainsWords words; a move to Deleted Items is a deletion
        (3, "meganb@m365b132131.onmicrosoft.com", "phish-sim.example|training.example.org", "password reset", "deleted",
         "rule 'cleanup': MoveToFolder :\\Deleted Items", "New-InboxRule"),
        # neither moves nor deletes: loaded without a location
        (4, "leeg@m365b132131.onmicrosoft.com", "help@phish-sim.example|notices@phish-sim.example", None, None,
         "rule 'fwd': MarkAsRead, ForwardTo (no move or delete)", "New-InboxRule"),
        # line 5, a failed cmdlet, is not an event
        (6, "diegos@m365b132131.onmicrosoft.com", "help@phish-sim.example", None, "other_folder",
         "rule 'HELP': Move LgAAAAAdhAMRqmYRzZvIAKoAL8RaAQCq", "UpdateInboxRules AddMailboxRule"),
        (7, "diegos@m365b132131.onmicrosoft.com", "noreply@phish-sim.example", None, "deleted",
         "rule 'junk it': Delete", "UpdateInboxRules AddMailboxRule"),
        (8, "diegos@m365b132131.onmicrosoft.com", None, None, None,
         "rule 'HELP': no action recorded (no move or delete)", "UpdateInboxRules ModifyMailboxRule"),
        # line 9 (RemoveMailboxRule) is not an event either
    ]
    assert {e["action"] for e in events(ws)} == {"rule_created"}
    vendor = {e["source_row"]: e["vendor_id"] for e in events(ws)}
    assert vendor[2] == OBJ + "Payroll" and vendor[6] == vendor[8] == "1234567890123456789"
    times = {e["source_row"]: e["event_ts"] for e in events(ws)}
    assert times[2] == ts(2023, 9, 26, 2, 10) and times[7] == ts(2023, 9, 28, 10, 5)
    raw = ws.sql("SELECT source_row, result_status, rule_operation FROM raw_m365_inbox_rules_json "
                 "WHERE source_row IN (5, 9) ORDER BY source_row").rows()
    assert raw == [(5, "False", None), (9, "Succeeded", "RemoveMailboxRule")]
    union = ws.sql("SELECT count(*) FROM int_mail_events WHERE source_format = ? AND action = 'rule_created'", [FMT]).item()
    assert union == 7


def test_purview_csv_and_content_blob(ws):
    csv_path, blob = DATA / "purview_audit_search.csv", DATA / "content_blob.json"
    assert claims(csv_path) == [FMT] and claims(blob) == [FMT]
    ws.ingest("c1", [str(csv_path), str(blob)])
    got = [(e["source_row"], e["recipient"], e["sender"], e["location"], e["event_ts"]) for e in events(ws)]
    assert got == [
        (2, "debrab@m365b132131.onmicrosoft.com", "flag@ctf.com", "other_folder", ts(2023, 9, 26, 1, 56, 15)),
        (3, "alexw@m365b132131.onmicrosoft.com", None, "deleted", ts(2023, 9, 26, 2, 10)),
        (1, "diegos@m365b132131.onmicrosoft.com", "help@phish-sim.example", "other_folder", ts(2023, 9, 28, 10)),
        (2, "debrab@m365b132131.onmicrosoft.com", "flag@ctf.com", "other_folder", ts(2023, 9, 26, 1, 56, 15)),
    ]


def test_sniff_is_specific(real):
    assert FMT not in claims(real / "m365_audit" / "elastic_o365_threatintelligence_TIMailData_event_original.ndjson")
    loader = registry.get(FMT)
    assert loader.sniff(b"", '{"Operation": "UpdateInboxRules"}')
    assert not loader.sniff(b"", '{"Operation": "Remove-InboxRule"}')
    assert not loader.sniff(b"", "Date,Sender,Recipient,Status\nNew-InboxRule,,,\n")


# -- bad input --------------------------------------------------------------------------------

def _lines() -> list[str]:
    return (DATA / "rules.ndjson").read_text().splitlines()


@pytest.mark.parametrize("body, line, words", [
    pytest.param("\n".join(_lines()[:3] + [_lines()[3][:150]] + _lines()[4:5]), 4, "not valid JSON", id="truncated-line"),
    pytest.param("\n".join(_lines()[:1] + [_lines()[1].replace("2023-09-26T02:10:00", "26.09.2023 02:10")]
                           + _lines()[2:4]), 2, "CreationTime", id="bad-timestamp"),
    pytest.param("\n".join(_lines()[:2] + [json.dumps({**json.loads(_lines()[2]), "Parameters": "[{Name=From"})]
                           + _lines()[3:5]), 3, "unreadable rule content", id="parameters-string-not-json"),
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


def test_csv_of_another_generation(ws, tmp_path):
    path = tmp_path / "old.csv"
    path.write_text("Date,User,Activity,Item\n2023-09-26,debrab@x.com,New-InboxRule,f\n")
    with pytest.raises(InputError) as err:
        ws.ingest("c1", [f"{path}:{FMT}"])
    assert err.value.line == 1 and "CreationDate" in err.value.message and "AuditData" in err.value.message
    assert_nothing_loaded(ws)


def test_missing_owner_is_rejected(ws, tmp_path):
    record = json.loads(_lines()[0])
    del record["UserId"]
    path = tmp_path / "noowner.ndjson"
    path.write_text(json.dumps(record) + "\n")
    with pytest.raises(InputError) as err:
        ws.ingest("c1", [str(path)])
    assert err.value.line == 1 and "UserId" in err.value.message
    assert_nothing_loaded(ws)


def test_timaildata_file_forced_here_loads_nothing(ws, real):
    path = real / "m365_audit" / "elastic_o365_threatintelligence_TIMailData_event_original.ndjson"
    with pytest.raises(InputError) as err:
        ws.ingest("c1", [f"{path}:{FMT}"])
    assert "no records found" in err.value.message
    assert_nothing_loaded(ws)
