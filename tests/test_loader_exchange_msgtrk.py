"""exchange_msgtrk: Exchange Server message tracking logs (formats.md §3.4)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from phishtrace import InputError, Workspace, registry, textio

DATA = Path(__file__).parent / "data" / "exchange_msgtrk"
SAMPLE_30 = DATA / "msgtrk_2016_30fields.log"
MID = "sim-20240305-0001@phish-sim.example"
NMID = "5f1c2d3e-4b5a-4c6d-8e7f-08dc3cf0a001"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def loaded():
    """One workspace for every successful load; each test uses its own customer."""
    w = Workspace(":memory:")
    yield w
    w.close()


@pytest.fixture(scope="module")
def empty():
    """A workspace that only ever sees failing loads: it must stay empty."""
    w = Workspace(":memory:")
    yield w
    w.close()


def events(ws, customer, **where):
    clause = " AND ".join(["customer = ?", *(f"{k} = ?" for k in where)])
    return ws.sql(
        f"SELECT * FROM stg_exchange_msgtrk WHERE {clause} ORDER BY source_row, recipient",
        [customer, *where.values()],
    ).to_dicts()


def line_of(path: Path, needle: str) -> int:
    """1-based line of the first line containing needle (read independently of the loader)."""
    for n, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        if needle in line:
            return n
    raise AssertionError(f"{needle!r} not in {path}")


def assert_nothing_loaded(ws):
    assert ws.sql("SELECT count(*) AS n FROM raw_exchange_msgtrk")["n"][0] == 0
    assert ws.sql("SELECT count(*) AS n FROM load_manifest")["n"][0] == 0


def claimed_by(path: Path) -> list[str]:
    return [l.name for l in registry.claimants(path.read_bytes()[: textio.HEAD_BYTES])]


# -- real fixtures ------------------------------------------------------------------------------

def test_real_2010_header_file(loaded, real):
    ws = loaded
    path = real / "exchange_msgtrk" / "beats_bom8.log"
    assert claimed_by(path) == ["exchange_msgtrk"]
    ws.ingest("beats", [path])
    rows = events(ws, "beats")
    assert [r["source_row"] for r in rows] == [6, 7]
    assert [r["event_ts"] for r in rows] == [utc(2016, 4, 5, 0, 0, 2, 52000), utc(2016, 4, 5, 0, 0, 2, 145000)]
    assert {r["raw_status"] for r in rows} == {"NOTIFYMAPI/STOREDRIVER"}
    assert {r["action"] for r in rows} == {"received"}
    assert all(r["recipient"] is None and r["message_id"] is None for r in rows)
    layouts = ws.sql("SELECT DISTINCT fields_layout FROM raw_exchange_msgtrk WHERE customer = 'beats'")
    assert layouts["fields_layout"].to_list() == ["26"]


def test_real_headerless_needs_fields(empty, real):
    ws = empty
    path = real / "exchange_msgtrk" / "elastic_exchange_server_test-messagetracking.log"
    assert claimed_by(path) == ["exchange_msgtrk"]
    with pytest.raises(InputError) as err:
        ws.ingest("acme", [path])
    assert err.value.line == 1 and "--fields" in err.value.message and str(path) in str(err.value)
    assert_nothing_loaded(ws)


@pytest.mark.parametrize("fields", ["30", ",".join(
    "date-time,client-ip,client-hostname,server-ip,server-hostname,source-context,connector-id,source,event-id,"
    "internal-message-id,message-id,network-message-id,recipient-address,recipient-status,total-bytes,"
    "recipient-count,related-recipient-address,reference,message-subject,sender-address,return-path,message-info,"
    "directionality,tenant-id,original-client-ip,original-server-ip,custom-data,transport-traffic-type,log-id,"
    "schema-version".split(",")
)])
def test_real_headerless_with_fields(loaded, real, fields):
    ws, customer = loaded, f"elastic-{len(fields)}"
    path = real / "exchange_msgtrk" / "elastic_exchange_server_test-messagetracking.log"
    ws.ingest(customer, [path], options={"fields": fields})
    rows = {r["source_row"]: r for r in events(ws, customer)}
    assert set(rows) == {1, 2, 3, 4}
    send = rows[4]
    assert send["event_ts"] == utc(2024, 1, 7, 0, 0, 7, 463000)
    assert send["action"] == "relayed" and send["location"] is None  # Intra-Organization SMTP Send Connector
    assert send["message_id"] == "20240107001234.567E6224C8@monitor.example.com"
    assert send["vendor_id"] == "0b7099ea-cb95-1234-328e-08dc5f139ac8"
    assert send["recipient"] == "uwe.musterman@example.com"
    assert send["sender"] == "support@example.com"
    assert send["subject"] == "ein Titel"
    receive = rows[2]
    assert receive["action"] == "received" and receive["raw_status"] == "RECEIVE/SMTP"
    assert receive["message_id"] == "20240123200014.123F425E28@host01.my.domain.com"
    assert receive["vendor_id"] == "1e6eb197-c6b4-1234-1b69-56dc1db88f50"
    assert receive["event_ts"] == utc(2024, 1, 25, 15, 16, 9, 949000)
    assert rows[1]["action"] == "received" and rows[1]["raw_status"] == "HAREDIRECTFAIL/SMTP"
    hops = ws.sql("SELECT DISTINCT hop, verdict_hop FROM int_mail_events WHERE customer = ?", [customer])
    assert hops.rows() == [("server", "server")]


def test_real_headerless_wrong_generation(empty, real):
    ws = empty
    path = real / "exchange_msgtrk" / "elastic_exchange_server_test-messagetracking.log"
    with pytest.raises(InputError) as err:
        ws.ingest("acme", [path], options={"fields": "26"})
    assert err.value.line == 1 and "30 fields" in err.value.message and "26" in err.value.message
    assert_nothing_loaded(ws)


def test_bad_fields_option(empty, real):
    ws = empty
    path = real / "exchange_msgtrk" / "elastic_exchange_server_test-messagetracking.log"
    with pytest.raises(InputError) as err:
        ws.ingest("acme", [path], options={"fields": "date-time,event-id,colour"})
    assert "colour" in err.value.message
    assert_nothing_loaded(ws)


# -- own samples: every mapped vendor value -----------------------------------------------------

EXPECTED = [
    # recipient, raw_status, action, location
    ("alice@contoso.com", "AGENTINFO/AGENT DI=SN", "received", None),
    ("alice@contoso.com", "DELIVER/STOREDRIVER", "delivered", "inbox"),
    ("bob@contoso.com", "AGENTINFO/AGENT DI=SJ", "junked", "junk"),
    ("carol@contoso.com", "AGENTINFO/AGENT DI=SQ", "quarantined", "quarantine"),
    ("dave@contoso.com", "AGENTINFO/AGENT DI=SD", "dropped", "deleted"),
    ("erin@contoso.com", "AGENTINFO/AGENT DI=SB", "rejected", None),
    ("frank@contoso.com", "FAIL/SMTP", "bounced", None),
    ("it-support@phish-sim.example", "DSN/DSN", "received", None),
    ("grace@contoso.com", "DEFER/QUEUE", "deferred", None),
    ("heidi@contoso.com", "DROP/AGENT", "dropped", "none"),
    ("ivan@contoso.com", "AGENTINFO/AGENT TRA action=quarantine", "quarantined", "quarantine"),
    ("judy@contoso.com", "AGENTINFO/AGENT", "received", None),  # rule in Audit mode: not enforced
    ("ken@contoso.com", "AGENTINFO/AGENT TRA action=rejectmessage", "rejected", None),
    ("quinn@contoso.com", "AGENTINFO/AGENT TRA action=redirectmessage", "dropped", "none"),
    ("trent@contoso.com", "AGENTINFO/AGENT TRA action=moderatemessagebyuser", "deferred", None),
    ("trent@contoso.com", "MODERATORREJECT/APPROVAL", "bounced", None),
    ("leo@partner.example", "SEND/SMTP", "relayed", "external"),
    ("mallory@contoso.com", "POISONMESSAGE/POISONMESSAGE", "dropped", "none"),
    ("alice.private@mail.example", "RECEIVE/MAILBOXRULE", "received", None),
    ("alice@contoso.com", "RESOLVE/ROUTING", "received", None),
    ("walter@contoso.com", "TRANSFER/ROUTING", "received", None),
    ("alice@contoso.com", "HAREDIRECT/SMTP", "received", None),
]


@pytest.fixture(scope="module")
def sample(loaded):
    loaded.ingest("sample30", [SAMPLE_30])
    return loaded


@pytest.mark.parametrize("recipient,raw_status,action,location", EXPECTED)
def test_sample_mapping(sample, recipient, raw_status, action, location):
    rows = events(sample, "sample30", recipient=recipient, raw_status=raw_status)
    assert rows, f"no {raw_status} row for {recipient}"
    assert {(r["action"], r["location"]) for r in rows} == {(action, location)}
    assert {r["hop"] for r in rows} == {"server"} and {r["verdict_hop"] for r in rows} == {"server"}


def test_sample_identifiers_and_time(sample):
    [row] = events(sample, "sample30", recipient="bob@contoso.com", action="junked")
    assert row["message_id"] == MID
    assert row["vendor_id"] == NMID
    assert row["sender"] == "it-support@phish-sim.example"
    assert row["subject"] == "Action required: password expiry"
    assert row["event_ts"] == utc(2024, 3, 5, 9, 12, 44, 805000)
    assert row["source_row"] == line_of(SAMPLE_30, "bob@contoso.com,,48211,1,,,Action required: password expiry,"
                                                   "it-support@phish-sim.example,it-support@phish-sim.example,,"
                                                   "Incoming,,,,S:SFA=SUM|SFV=SPM")
    assert "DI=SJ" in row["reason"]


def test_sample_reasons(sample):
    [fail] = events(sample, "sample30", recipient="frank@contoso.com")
    assert fail["reason"].startswith("550 5.1.1 RESOLVER.ADR.RecipNotFound; not found")
    [dsn] = events(sample, "sample30", raw_status="DSN/DSN")
    assert "RecipNotFound" in dsn["reason"] and dsn["message_id"] == "a1b2c3d4e5f6@exch01.contoso.com"
    [rule] = events(sample, "sample30", recipient="alice.private@mail.example")
    assert "MAILBOXRULE" in rule["reason"]
    [audit] = events(sample, "sample30", recipient="judy@contoso.com", raw_status="AGENTINFO/AGENT")
    assert "audit" in audit["reason"].lower()
    [ivan] = events(sample, "sample30", recipient="ivan@contoso.com", raw_status="AGENTINFO/AGENT TRA action=quarantine")
    assert "7c2d1e0f-aaaa-4bbb-8ccc-123456789abc" in ivan["reason"]
    assert "2f6b6a71" not in ivan["reason"]  # ETRP entry: the rule did not match


def test_sample_multi_recipient_rows_are_split(sample):
    line = line_of(SAMPLE_30, "oscar@contoso.com;peggy@contoso.com")
    rows = events(sample, "sample30", source_row=line)
    assert [(r["recipient"], r["action"], r["reason"]) for r in rows] == [
        ("oscar@contoso.com", "delivered", "250 2.1.5 Recipient OK"),
        ("peggy@contoso.com", "delivered", "250 2.1.5 Recipient OK"),
    ]
    line = line_of(SAMPLE_30, "rupert@contoso.com;sybil@contoso.com")
    rows = events(sample, "sample30", source_row=line)
    assert [(r["recipient"], r["action"]) for r in rows] == [("rupert@contoso.com", "bounced"), ("sybil@contoso.com", "bounced")]
    assert rows[0]["reason"] == "550 5.1.1 RESOLVER.ADR.RecipNotFound; not found"
    assert rows[1]["reason"].startswith("554 5.2.2 mailbox full; STOREDRV")
    line = line_of(SAMPLE_30, "alice@contoso.com;bob@contoso.com;carol@contoso.com")
    assert [r["recipient"] for r in events(sample, "sample30", source_row=line)] == [
        "alice@contoso.com", "bob@contoso.com", "carol@contoso.com"]


def test_sample_intra_org_send_has_no_external_location(sample):
    [row] = events(sample, "sample30", recipient="oscar@contoso.com", raw_status="SEND/SMTP")
    assert row["action"] == "relayed" and row["location"] is None


def test_generations_27_and_26(loaded):
    ws = loaded
    ws.ingest("older", [DATA / "msgtrk_2013_27fields.log", DATA / "msgtrk_2010_26fields.log"])
    rows = ws.sql("SELECT r.fields_layout, s.* FROM stg_exchange_msgtrk s JOIN raw_exchange_msgtrk r "
                  "USING (load_id, source_row) WHERE s.customer = 'older' AND s.action = 'delivered' "
                  "ORDER BY s.event_ts").to_dicts()
    assert [(r["fields_layout"], r["recipient"], r["event_ts"]) for r in rows] == [
        ("27", "alice@contoso.com", utc(2024, 3, 6, 14, 1, 3)),
        ("26", "bob@contoso.com", utc(2024, 3, 7, 8, 30, 1, 250000)),
    ]
    assert rows[0]["vendor_id"] == NMID  # network-message-id (2013+)
    assert rows[1]["vendor_id"] == "3001"  # 2010: internal-message-id
    assert rows[1]["location"] == "inbox"


# -- bad input ----------------------------------------------------------------------------------

def _sample_lines() -> list[str]:
    return SAMPLE_30.read_text(encoding="utf-8-sig").splitlines()


def test_header_of_another_generation(empty, tmp_path):
    ws = empty
    lines = _sample_lines()
    header_26 = (DATA / "msgtrk_2010_26fields.log").read_text(encoding="utf-8-sig").splitlines()[4]
    bad = tmp_path / "MSGTRK2024030501-1.LOG"
    bad.write_text("\r\n".join(lines[:4] + [header_26] + lines[5:8]) + "\r\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        ws.ingest("acme", [bad])
    assert err.value.line == 6 and "30 fields" in err.value.message and "26" in err.value.message
    assert_nothing_loaded(ws)


def test_truncated_line(empty, tmp_path):
    ws = empty
    lines = _sample_lines()
    bad = tmp_path / "MSGTRK.LOG"
    bad.write_text("\r\n".join(lines[:9] + [lines[9][:120]]), encoding="utf-8")
    with pytest.raises(InputError) as err:
        ws.ingest("acme", [bad])
    assert err.value.line == 10 and "truncated" in err.value.message
    assert_nothing_loaded(ws)


def test_bad_timestamp(empty, tmp_path):
    ws = empty
    lines = _sample_lines()
    lines[7] = "05/03/2024 09:12:45" + lines[7][len("2024-03-05T09:12:45.120Z"):]
    bad = tmp_path / "MSGTRK.LOG"
    bad.write_text("\r\n".join(lines[:12]) + "\r\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        ws.ingest("acme", [bad])
    assert err.value.line == 8 and "date-time" in err.value.message
    assert_nothing_loaded(ws)


def test_header_without_event_id(empty, tmp_path):
    ws = empty
    bad = tmp_path / "smtp_receive.log"
    bad.write_text("#Software: Microsoft Exchange Server\r\n#Log-type: SMTP Receive Protocol Log\r\n"
                   "#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context\r\n"
                   "2024-03-05T09:12:44.563Z,EXCH01\\Default,08DC3CF0A1B2C3D4,0,10.0.0.5:25,203.0.113.25:50000,+,,\r\n",
                   encoding="utf-8")
    assert "exchange_msgtrk" not in claimed_by(bad)
    with pytest.raises(InputError) as err:
        ws.ingest("acme", [f"{bad}:exchange_msgtrk"])
    assert err.value.line == 3 and "event-id" in err.value.message
    assert_nothing_loaded(ws)


def test_garbage_and_empty(empty, tmp_path):
    ws = empty
    garbage = tmp_path / "garbage.log"
    garbage.write_text("hello world\nthis is not a tracking log\n", encoding="utf-8")
    assert "exchange_msgtrk" not in claimed_by(garbage)
    with pytest.raises(InputError) as err:
        ws.ingest("acme", [f"{garbage}:exchange_msgtrk"])
    assert err.value.line == 1 and "--fields" in err.value.message
    with pytest.raises(InputError):
        ws.ingest("acme", [f"{garbage}:exchange_msgtrk"], options={"fields": "30"})
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"\xef\xbb\xbf")
    with pytest.raises(InputError):
        ws.ingest("acme", [f"{empty}:exchange_msgtrk"])
    header_only = tmp_path / "header_only.log"
    header_only.write_text("\r\n".join(_sample_lines()[:5]) + "\r\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        ws.ingest("acme", [header_only])
    assert "no records" in err.value.message
    assert_nothing_loaded(ws)


def test_sniff_does_not_claim_other_fixtures(real):
    for path in sorted(real.rglob("*")):
        if path.is_file() and path.parent.name != "exchange_msgtrk" and path.name != "PROVENANCE.md":
            assert "exchange_msgtrk" not in claimed_by(path), path


def test_samples_claimed_only_by_this_loader():
    for path in sorted(DATA.glob("*.log")):
        assert claimed_by(path) == ["exchange_msgtrk"], path


def test_recipient_status_pairing():
    from phishtrace.loaders._exchange_csv import split_recipients

    assert split_recipients("a@x;b@x", "250 2.1.5 OK;250 2.1.5 OK") == [("a@x", "250 2.1.5 OK"), ("b@x", "250 2.1.5 OK")]
    # statuses that contain ';' themselves: split where a new SMTP reply starts
    assert split_recipients("a@x;b@x", "550 5.1.1 RESOLVER; not found;554 5.2.2 full; quota") == [
        ("a@x", "550 5.1.1 RESOLVER; not found"), ("b@x", "554 5.2.2 full; quota")]
    # no split gives one status per recipient: every recipient keeps the whole text
    assert split_recipients("a@x;b@x;c@x", "550 5.7.1 denied; policy") == [
        ("a@x", "550 5.7.1 denied; policy"), ("b@x", "550 5.7.1 denied; policy"), ("c@x", "550 5.7.1 denied; policy")]
    assert split_recipients("a@x", "550 4.4.7 QUEUE.Expired; message expired") == [
        ("a@x", "550 4.4.7 QUEUE.Expired; message expired")]
    assert split_recipients("", "To") == [(None, "To")]
    assert split_recipients("a@x; b@x;", "") == [("a@x", None), ("b@x", None)]
