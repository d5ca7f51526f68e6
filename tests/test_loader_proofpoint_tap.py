"""Proofpoint TAP SIEM API loader (formats.md §2.1.4): real click fixtures, own envelope samples, bad input."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from phishtrace import InputError, registry, textio

DATA = Path(__file__).parent / "data" / "proofpoint_tap"
UTC = timezone.utc

COLS = ("source_row, event_ts, message_id, vendor_id, sender, recipient, action, location, reason, raw_status, "
        "url, token, client_ip, user_agent, verdict_hop")


def staged(ws, where="true", params=()):
    return ws.sql(f"SELECT {COLS} FROM stg_proofpoint_tap_json WHERE {where} ORDER BY load_id, source_row, recipient",
                  params).rows(named=True)


def iso(text):
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def assert_nothing_loaded(ws):
    assert ws.sql("SELECT count(*) AS n FROM raw_proofpoint_tap_json")["n"][0] == 0
    assert ws.sql("SELECT count(*) AS n FROM load_manifest")["n"][0] == 0


def test_sniff_claims_tap_files_only(real):
    for path in [*sorted((real / "proofpoint_tap").iterdir()), *sorted(DATA.glob("*.json*"))]:
        head = path.read_bytes()[: textio.HEAD_BYTES]
        assert [l.name for l in registry.claimants(head)] == ["proofpoint_tap_json"], path
    tap = registry.get("proofpoint_tap_json")
    for path in sorted(real.rglob("*")):
        if path.is_file() and path.parent.name != "proofpoint_tap" and path.suffix != ".md":
            head = path.read_bytes()[: textio.HEAD_BYTES]
            assert not tap.sniff(head, textio.head_text(head)), path


def test_real_clicks_permitted_take_the_list_of_the_trailing_envelope(ws, real):
    path = real / "proofpoint_tap" / "test-clicks-permitted.log"
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    assert records[-1] == {"queryEndTime": "2024-10-11T14:34:53Z", "clicksPermitted": []}
    [res] = ws.ingest("acme", [path])
    assert (res.format, res.hop, res.rows, res.rejects) == ("proofpoint_tap_json", "filter", 4, 0)
    rows = staged(ws)
    assert len(rows) == 4
    for line, (row, rec) in enumerate(zip(rows, records[:-1]), start=1):
        assert row["source_row"] == line
        assert row["action"] == "clicked"
        assert row["verdict_hop"] == "filter"
        assert row["event_ts"] == iso(rec["clickTime"])
        assert row["message_id"] == rec["messageID"]
        assert row["vendor_id"] == rec["GUID"]
        assert row["recipient"] == rec["recipient"].lower()
        assert row["sender"] == rec["sender"].lower()
        assert row["client_ip"] == rec["clickIP"]
        assert row["user_agent"] == rec["userAgent"]
        assert row["url"] == rec["url"]
        assert row["raw_status"] == f"clicksPermitted/{rec['threatStatus']}"
        assert row["reason"].startswith(f"tap_threat:{rec['classification'].lower()};")
        assert row["token"] is None
    assert rows[0]["event_ts"] == datetime(2016, 6, 24, 19, 17, 44, tzinfo=UTC)
    assert rows[0]["reason"].startswith("tap_threat:malware;")
    basis = ws.sql("SELECT DISTINCT tap_list, list_basis FROM raw_proofpoint_tap_json").rows()
    assert basis == [("clicksPermitted", "file_envelope")]


def test_real_clicks_blocked_need_the_list_when_the_file_does_not_say(ws, real):
    path = real / "proofpoint_tap" / "test-clicks-blocked.log"
    ws.ingest("acme", [path])
    rows = staged(ws)
    assert [r["action"] for r in rows] == ["clicked"] * 5
    assert all(r["raw_status"] == "click/active" and "list not recorded" in r["reason"] for r in rows)
    assert rows[1]["recipient"] == "bd5da771530b11830e6dfd25838b0240@example.com"
    assert rows[1]["event_ts"] == datetime(2022, 3, 30, 7, 22, 52, tzinfo=UTC)
    assert rows[1]["vendor_id"] == "bkUrAsCYZgwjjf8P2aGhNUzVWGxrAX-H"
    assert rows[1]["message_id"] == "12345678912345.12345.mail@example.com"

    ws.ingest("acme", [path], force=True, options={"tap_list": "clicksBlocked"})
    rows = staged(ws)
    assert [r["action"] for r in rows] == ["clicked_blocked"] * 5
    assert rows[3]["reason"] == "tap_threat:malware; click blocked by URL Defense"
    assert rows[3]["raw_status"] == "clicksBlocked/active"


def test_envelope_lists_decide_and_messages_give_one_row_per_recipient(ws):
    path = DATA / "siem_all_envelope.json"
    doc = json.loads(path.read_text())
    [res] = ws.ingest("acme", [path])
    assert (res.rows, res.rejects) == (5, 0)
    by = {(r["action"], r["recipient"]): r for r in staged(ws)}
    assert set(by) == {
        ("passed", "carl.clicked@example.com"),
        ("quarantined", "ann@example.com"),
        ("quarantined", "bob@example.com"),
        ("clicked", "carl.clicked@example.com"),
        ("clicked_blocked", "dee@example.com"),
    }
    delivered = by[("passed", "carl.clicked@example.com")]
    assert delivered["event_ts"] == datetime(2024, 5, 1, 9, 0, 2, tzinfo=UTC)
    assert delivered["message_id"] == "1714554002000000000.4242.5577006791947779410@phish-sim"
    assert delivered["vendor_id"] == doc["messagesDelivered"][0]["GUID"]
    assert delivered["sender"] == doc["messagesDelivered"][0]["sender"]
    assert delivered["location"] is None
    assert delivered["reason"] == "tap_threat:phish; delivered although threat-classified"
    assert delivered["raw_status"] == "messagesDelivered/active"
    assert delivered["token"] == "Cl1ckSc"

    blocked = by[("quarantined", "ann@example.com")]
    assert blocked["location"] == "quarantine"
    assert blocked["event_ts"] == datetime(2024, 5, 1, 9, 0, 3, 250000, tzinfo=UTC)
    assert blocked["reason"] == "Phish/module.urldefense.phish; tap_threat:phish,spam; blocked by TAP"
    assert blocked["token"] is None  # two recipients, two rids: not tied to one recipient
    assert blocked["source_row"] == by[("quarantined", "bob@example.com")]["source_row"]

    click = by[("clicked", "carl.clicked@example.com")]
    assert (click["token"], click["client_ip"]) == ("Cl1ckSc", "40.94.89.10")
    assert click["event_ts"] == datetime(2024, 5, 1, 9, 0, 9, 870000, tzinfo=UTC)
    assert click["message_id"] == delivered["message_id"]

    blocked_click = by[("clicked_blocked", "dee@example.com")]
    assert blocked_click["token"] == "DeeR1d0"
    assert blocked_click["reason"] == "tap_threat:spam; click blocked by URL Defense"

    manifest = ws.manifest("acme").rows(named=True)[0]
    assert manifest["window_start"] == datetime(2024, 5, 1, 9, 0, 2, tzinfo=UTC)
    assert manifest["window_end"] == datetime(2024, 5, 1, 9, 5, tzinfo=UTC)
    # the union view carries the events
    n = ws.sql("SELECT count(*) AS n FROM int_mail_events WHERE source_format = 'proofpoint_tap_json'")["n"][0]
    assert n == 5


def test_bare_records_use_collector_keys_then_quarantine_folder(ws):
    ws.ingest("acme", [DATA / "collector_records.jsonl"])
    rows = staged(ws)
    got = [(r["source_row"], r["recipient"], r["action"], r["location"]) for r in rows]
    assert got == [
        (1, "clark.kent@pharmtech.zz", "passed", None),  # collector status wins over quarantineFolder
        (1, "diana.prince@pharmtech.zz", "passed", None),
        (2, "bruce.wayne@pharmtech.zz", "clicked_blocked", None),
        (3, "lois.lane@pharmtech.zz", "quarantined", "quarantine"),
        (4, "jimmy.olsen@pharmtech.zz", "passed", None),
    ]
    assert rows[0]["event_ts"] == datetime(2016, 6, 24, 21, 18, 38, tzinfo=UTC)
    assert rows[0]["reason"].startswith("tap_threat:malware;")
    assert rows[3]["message_id"] == "20160624211146.62087.mail@evil.zz"
    assert rows[3]["reason"] == "Attachment Defense/module.sandbox.threat; tap_threat:malware; blocked by TAP"
    basis = ws.sql("SELECT source_row, list_basis FROM raw_proofpoint_tap_json ORDER BY source_row, recipient").rows()
    assert [b for _, b in basis] == ["collector", "collector", "collector", "quarantineFolder", "no quarantineFolder"]


def test_rid_forms_in_urls():
    from phishtrace.loaders.proofpoint_tap import rids

    assert rids("https://x.example/?rid=AbC1234") == ["AbC1234"]
    assert rids("https://x.example/track?foo=1&rid=AbC1234&x=2") == ["AbC1234"]
    assert rids("https://safelinks.example/?url=https%3A%2F%2Fx.example%2F%3Frid%3DAbC1234") == ["AbC1234"]
    assert rids("https://urldefense.proofpoint.com/v2/url?u=https-3A__x.example_-3Frid-3DAbC1234&d=x") == ["AbC1234"]
    assert rids("https://x.example/?grid=AbC1234") == []


CLICK = ('{"GUID":"g1","clickTime":"2024-05-01T09:00:09.870Z","clickIP":"1.2.3.4","recipient":"a@example.com",'
         '"url":"https://x.example/?rid=AbC1234","classification":"phish","messageID":"m@x"}')


@pytest.mark.parametrize("text, line, fragment", [
    (CLICK + "\n" + CLICK[:60] + "\n", 2, "not valid JSON"),
    (CLICK + "\n" + CLICK.replace("2024-05-01T09:00:09.870Z", "30/04/2024 09:00") + "\n", 2, "ISO 8601"),
    (CLICK + "\n" + CLICK.replace('"clickTime"', '"when"').replace('"clickIP"', '"ip"') + "\n", 2,
     "expected a TAP message (messageTime) or click (clickTime) record"),
    ('{"queryEndTime":"2024-10-11T14:34:53Z",\n "clicksPermitted":[' + CLICK + ',\n', 3, "not valid JSON"),
    ('{"queryEndTime":"2024-10-11T14:34:53Z","clicksPermitted":[]}\n', None, "no records found"),
])
def test_bad_input_is_refused_whole(ws, tmp_path, text, line, fragment):
    p = tmp_path / "tap.json"
    p.write_text(text)
    with pytest.raises(InputError) as err:
        ws.ingest("acme", [f"{p}:proofpoint_tap_json"])
    assert err.value.line == line
    assert fragment in str(err.value)
    assert str(p) in str(err.value)
    assert_nothing_loaded(ws)


def test_unknown_list_option_is_refused(ws, real):
    with pytest.raises(InputError) as err:
        ws.ingest("acme", [real / "proofpoint_tap" / "test-clicks-blocked.log"], options={"tap_list": "blocked"})
    assert "tap_list" in str(err.value) and "clicksBlocked" in str(err.value)
    assert_nothing_loaded(ws)
