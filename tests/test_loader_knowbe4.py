"""KnowBe4 recipients loader (formats.md §1.2): the two real records, the samples in tests/data/knowbe4
(see its README), bad input, and one test seen from KnowBe4 and an Exchange Online message trace."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from phishtrace import InputError, registry, textio

DATA = Path(__file__).parent / "data" / "knowbe4"
FMT = "knowbe4_recipients_json"
UTC = timezone.utc
XSOAR = "phishing_security_tests_failed_recipients_response.json"
SUMO = "sumologic_doc_recipient_sample.json"


def ts(text):
    """A KnowBe4 time ('2023-03-06T17:15:04.000Z'), read independently of the loader."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def messages(ws):
    return {r["recipient"]: r for r in ws.sql("SELECT * FROM stg_knowbe4_recipients_json").rows(named=True)}


def interactions(ws):
    return ws.sql("SELECT recipient, kind, event_ts, client_ip, user_agent, detail "
                  "FROM stg_knowbe4_recipients_json__interactions ORDER BY recipient, event_ts, kind, detail"
                  ).rows(named=True)


def assert_nothing_loaded(ws):
    assert ws.sql(f"SELECT count(*) AS n FROM raw_{FMT}")["n"][0] == 0
    assert ws.sql("SELECT count(*) AS n FROM load_manifest")["n"][0] == 0


# -- detection ------------------------------------------------------------------------------------

def test_sniff_claims_each_file_once(real):
    mine = [real / "knowbe4" / XSOAR, real / "knowbe4" / SUMO, *DATA.glob("*.json"), *DATA.glob("*.jsonl")]
    assert len(mine) == 5
    for path in mine:
        head = path.read_bytes()[: textio.HEAD_BYTES]
        assert [l.name for l in registry.claimants(head)] == [FMT], path
    loader = registry.get(FMT)
    others = [p for p in (*real.rglob("*"), *DATA.parent.rglob("*"))
              if p.is_file() and p.suffix != ".md" and p not in mine]
    assert len(others) > 50
    for path in others:
        head = path.read_bytes()[: textio.HEAD_BYTES]
        assert not loader.sniff(head, textio.head_text(head)), path


# -- the real records -----------------------------------------------------------------------------

def test_real_xsoar_response_array(ws, real):
    [rec] = json.loads((real / "knowbe4" / XSOAR).read_text())
    [res] = ws.ingest("acme", [real / "knowbe4" / XSOAR])
    assert (res.format, res.hop, res.rows, res.rejects) == (FMT, "platform", 1, 0)
    [m] = messages(ws).values()
    assert m["recipient"] == rec["user"]["email"] == "example4@kb4-demo.com"
    assert (m["campaign"], m["run"]) == (str(rec["pst_id"]), str(rec["pst_id"])) == ("14240", "14240")
    assert (m["first_name"], m["last_name"]) == ("Bob", "Ross")
    # data_entered_at is the furthest stage reached
    assert m["status"] == "entered_data"
    assert m["platform_status"] == ("scheduled_at,delivered_at,opened_at,clicked_at,data_entered_at,"
                                    "qr_code_scanned")
    assert m["scheduled_at"] == ts(rec["scheduled_at"]) == datetime(2019, 4, 2, 15, 2, 38, tzinfo=UTC)
    assert m["delivered_at"] == ts(rec["delivered_at"])
    assert m["run_start"] == ts(rec["scheduled_at"])
    assert (m["sent_at"], m["bounced_at"], m["message_id"], m["token"], m["sender"]) == (None,) * 5
    assert m["source_row"] == 1
    inter = interactions(ws)
    assert [(i["kind"], i["event_ts"], i["client_ip"], i["user_agent"]) for i in inter] == [
        ("clicked", ts(rec["clicked_at"]), "XX.XX.XXX.XXX", "Chrome 48.0 (MacOSX)"),
        ("entered_data", ts(rec["data_entered_at"]), None, None),
        ("opened", ts(rec["opened_at"]), None, None),
        ("clicked", ts(rec["qr_code_scanned"]), None, None),
    ]
    assert inter[0]["detail"] == "clicked_at; recipient_id=3077742; ip_location=St.Petersburg, FL"
    assert inter[3]["detail"].startswith("qr code")
    raw = ws.sql(f"SELECT recipient_id, pst_id, user_id, template_name, provisioning_guid FROM raw_{FMT}").rows()
    assert raw == [("3077742", "14240", "264215", "Your Amazon Order", None)]
    n = ws.sql("SELECT count(*) AS n FROM int_platform_interactions WHERE source_format = ?", [FMT])["n"][0]
    assert n == 4
    assert ws.sql("SELECT recipient FROM int_messages").rows() == [("example4@kb4-demo.com",)]


def test_real_sumologic_pretty_printed_record(ws, real):
    rec = json.loads((real / "knowbe4" / SUMO).read_text())
    [res] = ws.ingest("acme", [real / "knowbe4" / SUMO])
    assert (res.rows, res.rejects) == (1, 0)
    m = messages(ws)["bfranzone@sumologic.com"]
    assert (m["campaign"], m["status"]) == ("8805725", "clicked")
    assert m["delivered_at"] == ts(rec["delivered_at"]) == datetime(2023, 3, 6, 17, 15, 4, tzinfo=UTC)
    assert m["run_start"] == ts(rec["scheduled_at"])
    inter = {i["kind"]: i for i in interactions(ws)}
    assert set(inter) == {"opened", "clicked"}
    assert inter["clicked"]["event_ts"] == ts(rec["clicked_at"]) == datetime(2023, 3, 6, 20, 35, 41, tzinfo=UTC)
    assert inter["clicked"]["client_ip"] == rec["ip"] == "68.55.88.203"
    assert inter["clicked"]["user_agent"] == f"{rec['browser']} {rec['browser_version']} ({rec['os']})" \
        == "Chrome 110 (mac)"
    assert inter["opened"]["client_ip"] is None
    raw = ws.sql(f"SELECT provisioning_guid, template_id, template_difficulty, template_type, ip_location, record "
                 f"FROM raw_{FMT}").rows(named=True)[0]
    assert (raw["provisioning_guid"], raw["template_id"], raw["template_difficulty"], raw["template_type"]) == (
        "usr-63f633eb290af6f38a075108", "4813400", "5", "USER")
    assert raw["ip_location"] == "Rochester Hills, MI"
    assert json.loads(raw["record"]) == rec
    manifest = ws.manifest("acme").rows(named=True)[0]
    assert (manifest["window_start"], manifest["window_end"]) == (ts(rec["scheduled_at"]), ts(rec["clicked_at"]))


# -- own samples ----------------------------------------------------------------------------------

EXPECTED_STATUS = {
    "delivered.only@example.com": "delivered",
    "scheduled.only@example.com": "scheduled",
    "opened@example.com": "opened",
    "replied@example.com": "replied",
    "clicked@example.com": "clicked",
    "attachment@example.com": "clicked",
    "macro@example.com": "clicked",
    "qr@example.com": "clicked",
    "data@example.com": "entered_data",
    "bounced@example.com": "bounced",
    "reporter@example.com": "opened",
    "legacy.user@example.com": "delivered",
}


def test_status_derived_from_the_timestamps(ws):
    recs = {r["user"]["email"].lower(): r for r in json.loads((DATA / "pst_5551234_recipients.json").read_text())}
    ws.ingest("acme", [DATA / "pst_5551234_recipients.json"])
    msgs = messages(ws)
    assert {k: v["status"] for k, v in msgs.items()} == EXPECTED_STATUS
    for email, m in msgs.items():
        r = recs[email]
        assert (m["campaign"], m["run"]) == ("5551234", "5551234")
        assert m["delivered_at"] == (ts(r["delivered_at"]) if r["delivered_at"] else None)
        assert m["bounced_at"] == (ts(r["bounced_at"]) if r["bounced_at"] else None)
        assert m["scheduled_at"] == ts(r["scheduled_at"])
        assert m["sent_at"] is None and m["run_start"] == ts("2024-02-01T10:00:00.000Z")
        assert m["source_row"] == list(recs).index(email) + 1
    assert msgs["bounced@example.com"]["platform_status"] == "scheduled_at,bounced_at"
    assert msgs["reporter@example.com"]["platform_status"] == "scheduled_at,delivered_at,opened_at,reported_at"
    assert msgs["scheduled.only@example.com"]["platform_status"] == "scheduled_at"
    legacy = ws.sql(f"SELECT email, provisioning_guid, record FROM raw_{FMT} WHERE recipient_id = '700012'"
                    ).rows(named=True)[0]
    assert legacy["email"] == "Legacy.User@Example.COM"
    assert legacy["provisioning_guid"] == "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    assert {"exploited_at", "vulnerable-plugins_at"} <= set(json.loads(legacy["record"]))
    # a bounced recipient stops at the platform
    out = {r["recipient"]: r for r in ws.outcomes("acme").rows(named=True)}
    assert (out["bounced@example.com"]["outcome"], out["bounced@example.com"]["stuck_at"]) == ("bounced", "platform")


def test_every_interaction_kind(ws):
    ws.ingest("acme", [DATA / "pst_5551234_recipients.json"])
    got = [(i["recipient"], i["kind"], i["event_ts"], i["client_ip"], i["user_agent"], i["detail"].split(";")[0])
           for i in interactions(ws)]
    assert got == [
        ("attachment@example.com", "clicked", ts("2024-02-01T14:02:00.000Z"), None, None,
         "attachment opened (attachment_opened_at)"),
        ("clicked@example.com", "clicked", ts("2024-02-01T13:20:10.000Z"), "198.51.100.20",
         "Firefox 122.0 (Windows)", "clicked_at"),
        ("clicked@example.com", "opened", ts("2024-02-01T13:20:10.000Z"), None, None, "opened_at"),
        ("data@example.com", "opened", ts("2024-02-01T16:00:00.000Z"), None, None, "opened_at"),
        ("data@example.com", "clicked", ts("2024-02-01T16:00:05.000Z"), "192.0.2.77", "Edge 121 (Windows)",
         "clicked_at"),
        ("data@example.com", "entered_data", ts("2024-02-01T16:01:10.000Z"), None, None, "data_entered_at"),
        ("macro@example.com", "clicked", ts("2024-02-01T14:05:00.000Z"), None, None,
         "attachment opened (attachment_opened_at)"),
        ("macro@example.com", "clicked", ts("2024-02-01T14:05:30.000Z"), None, None,
         "macro enabled (macro_enabled_at)"),
        ("opened@example.com", "opened", ts("2024-02-01T11:15:02.000Z"), None, None, "opened_at"),
        ("qr@example.com", "clicked", ts("2024-02-01T15:40:12.000Z"), None, None, "qr code (qr_code_scanned)"),
        ("replied@example.com", "opened", ts("2024-02-01T12:01:00.000Z"), None, None, "opened_at"),
        ("replied@example.com", "replied", ts("2024-02-01T12:03:45.000Z"), None, None, "replied_at"),
        ("reporter@example.com", "opened", ts("2024-02-01T10:30:00.000Z"), None, None, "opened_at"),
        ("reporter@example.com", "reported", ts("2024-02-01T10:31:15.000Z"), None, None, "reported_at"),
    ]


def test_json_lines_and_campaign_option(ws):
    ws.ingest("acme", [DATA / "pst_5551299_recipients.jsonl"], options={"campaign": "Quarterly phish"})
    msgs = messages(ws)
    assert {k: (v["campaign"], v["run"], v["status"], v["source_row"]) for k, v in msgs.items()} == {
        "jl.one@example.com": ("Quarterly phish", "5551299", "delivered", 1),
        "jl.two@example.com": ("Quarterly phish", "5551299", "clicked", 3),
        "jl.three@example.com": ("Quarterly phish", "5551299", "bounced", 4),
    }
    assert all(m["run_start"] == datetime(2024, 3, 5, 7, 59, tzinfo=UTC) for m in msgs.values())
    [click] = [i for i in interactions(ws) if i["kind"] == "clicked"]
    assert (click["client_ip"], click["user_agent"]) == ("198.51.100.99", "Chrome")


def test_pages_of_one_test_share_the_run(ws, tmp_path):
    recs = json.loads((DATA / "pst_5551234_recipients.json").read_text())
    recs[0]["scheduled_at"] = "2024-02-01T09:58:00.000Z"
    (tmp_path / "page1.json").write_text(json.dumps(recs[:6]))
    (tmp_path / "page2.json").write_text(json.dumps(recs[6:]))
    ws.ingest("acme", [tmp_path / "page1.json", tmp_path / "page2.json"])
    rows = ws.sql("SELECT DISTINCT campaign, run, run_start FROM int_messages").rows()
    assert rows == [("5551234", "5551234", datetime(2024, 2, 1, 9, 58, tzinfo=UTC))]
    assert ws.sql("SELECT count(*) AS n FROM int_messages")["n"][0] == len(recs)


def test_with_message_trace_outcome_and_automated_click(ws):
    ws.ingest("acme", [DATA / "e2e_pst_9100001_recipients.json", DATA / "e2e_message_trace.csv"])
    out = {r["recipient"]: r for r in ws.outcomes("acme").rows(named=True)}
    # delivered per the trace; alice's only click came 41 s after delivery, so it is not a human's
    assert (out["carol.white@contoso.com"]["outcome"], out["carol.white@contoso.com"]["stuck_at"]) == (
        "delivered", "none")
    assert out["alice.smith@contoso.com"]["outcome"] == "delivered"
    assert out["bob.jones@contoso.com"]["outcome"] == "interacted"
    inter = {(i["recipient"], i["kind"]): i for i in ws.interactions("acme").rows(named=True)}
    alice = inter[("alice.smith@contoso.com", "clicked")]
    trace_delivery = datetime(2026, 11, 3, 14, 5, 9, tzinfo=UTC)  # 11/3/2026 2:05:09 PM in the trace
    assert alice["event_ts"] - trace_delivery == (ts("2026-11-03T14:05:50.000Z") - trace_delivery)
    assert (alice["event_ts"] - trace_delivery).total_seconds() == 41
    assert (alice["automated"], alice["automated_reason"], alice["delivery_reference"]) == (
        True, "within_seconds", "mail_log")
    assert (alice["client_ip"], alice["user_agent"]) == ("198.51.100.61", "Chrome 130 (Windows)")
    bob = inter[("bob.jones@contoso.com", "clicked")]
    assert (bob["automated"], bob["automated_reason"]) == (False, None)
    assert bob["event_ts"] == ts("2026-11-03T15:12:30.000Z")


# -- bad input ------------------------------------------------------------------------------------

def _record(**changes):
    rec = json.loads((DATA / "pst_5551234_recipients.json").read_text())[4]
    rec.update(changes)
    return rec


@pytest.mark.parametrize("records, line, fragment", [
    ([_record(), _record(), _record(clicked_at="2024-02-01T13:20:10.000")], 3, "clicked_at"),
    ([_record(), _record(), _record(clicked_at="2024-02-01T13:20:10.000")], 3, "no time zone"),
    ([_record(delivered_at=1706781634000)], 1, "delivered_at 1706781634000: expected a UTC timestamp"),
    ([_record(opened_at="yesterday")], 1, "opened_at"),
    ([_record(user={"id": 1, "first_name": "No", "last_name": "Mail"})], 1, "user.email"),
    ([_record(user=None)], 1, "without a user object"),
    ([{k: v for k, v in _record().items() if k != "pst_id"}], 1, "without pst_id"),
    ([{"pst_id": 14240, "status": "Closed", "name": "Q1 test", "delivered_count": 3}], 1, "not a recipient record"),
    ([], None, "no records found"),
])
def test_bad_records_are_refused_whole(ws, tmp_path, records, line, fragment):
    p = tmp_path / "recipients.json"
    p.write_text(json.dumps(records, indent=2))
    with pytest.raises(InputError) as err:
        ws.ingest("acme", [f"{p}:{FMT}"])
    assert err.value.line == line
    assert fragment in str(err.value)
    assert str(p) in str(err.value)
    assert_nothing_loaded(ws)


@pytest.mark.parametrize("text, line, fragment", [
    # truncated document: the error is where the text ends
    ((DATA / "pst_5551234_recipients.json").read_text()[:900],
     (DATA / "pst_5551234_recipients.json").read_text()[:900].count("\n") + 1, "not valid JSON"),
    (json.dumps(_record()) + "\n" + json.dumps(_record())[:120] + "\n", 2, "not valid JSON"),  # truncated line
    ("recipient_id,pst_id,delivered_at\n1,2,3\n", 1, "not valid JSON"),  # garbage
])
def test_unreadable_json_is_refused_whole(ws, tmp_path, text, line, fragment):
    p = tmp_path / "recipients.json"
    p.write_text(text)
    with pytest.raises(InputError) as err:
        ws.ingest("acme", [f"{p}:{FMT}"])
    assert (err.value.line, str(p) in str(err.value)) == (line, True)
    assert fragment in str(err.value) and "KnowBe4" in str(err.value)
    assert_nothing_loaded(ws)
