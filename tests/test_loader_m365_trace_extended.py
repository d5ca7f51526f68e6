"""m365_trace_extended_csv: EAC historical-search Enhanced summary and Extended CSVs (formats.md §3.1.4)."""

from __future__ import annotations

import codecs
from datetime import datetime, timezone
from pathlib import Path

import pytest

from phishtrace import InputError, Workspace, registry, textio

DATA = Path(__file__).parent / "data" / "m365_trace_extended"
EXTENDED = DATA / "extended_utf16le_bom.csv"
EXTENDED_NOBOM = DATA / "extended_utf16le_nobom_headercase.csv"
SUMMARY = DATA / "enhanced_summary_utf16le.csv"
SUMMARY_DOC = DATA / "enhanced_summary_utf8_documented_names.csv"
MID = "sim-20240305-0002@phish-sim.example"
NMID = "8a7b6c5d-1e2f-4a3b-9c8d-08dc3cf0b002"
SENDER = "notify@phish-sim.example"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def concatenated(tmp_path_factory):
    """Two downloads joined into one file: the header appears again in the middle."""
    lines = text_lines(SUMMARY)
    return _write_utf16(tmp_path_factory.mktemp("eac") / "both.csv", lines[:3] + lines[:1] + lines[3:])


@pytest.fixture(scope="module")
def loaded(concatenated):
    w = Workspace(":memory:")
    w.ingest("ext", [EXTENDED])
    w.ingest("ext-nobom", [EXTENDED_NOBOM])
    w.ingest("summary", [SUMMARY])
    w.ingest("summary-doc", [SUMMARY_DOC])
    w.ingest("concatenated", [concatenated])
    yield w
    w.close()


@pytest.fixture(scope="module")
def empty():
    w = Workspace(":memory:")
    yield w
    w.close()


def events(ws, customer, **where):
    clause = " AND ".join(["customer = ?", *(f"{k} = ?" for k in where)])
    return ws.sql(f"SELECT * FROM stg_m365_trace_extended_csv WHERE {clause} ORDER BY source_row, recipient",
                  [customer, *where.values()]).to_dicts()


def claimed_by(path: Path) -> list[str]:
    return [l.name for l in registry.claimants(path.read_bytes()[: textio.HEAD_BYTES])]


def text_lines(path: Path) -> list[str]:
    return textio.read_text(path).splitlines()


def line_of(path: Path, needle: str) -> int:
    for n, line in enumerate(text_lines(path), start=1):
        if needle in line:
            return n
    raise AssertionError(f"{needle!r} not in {path}")


def assert_nothing_loaded(ws):
    assert ws.sql("SELECT count(*) AS n FROM raw_m365_trace_extended_csv")["n"][0] == 0
    assert ws.sql("SELECT count(*) AS n FROM load_manifest")["n"][0] == 0


# -- Extended report ----------------------------------------------------------------------------

EXTENDED_EXPECTED = [
    # recipient, raw_status, action, location
    ("alice@contoso.com", "RECEIVE/SMTP", "received", None),
    ("alice@contoso.com", "AGENTINFO/AGENT DI=SN", "received", None),
    ("alice@contoso.com", "DELIVER/STOREDRIVER", "delivered", "inbox"),
    ("bob@contoso.com", "AGENTINFO/AGENT DI=SJ", "junked", "junk"),
    ("carol@contoso.com", "AGENTINFO/AGENT DI=SQ", "quarantined", "quarantine"),
    ("dave@contoso.com", "AGENTINFO/AGENT DI=SD", "dropped", "deleted"),
    ("erin@contoso.com", "AGENTINFO/AGENT DI=SB", "rejected", None),
    ("frank@contoso.com", "FAIL/SMTP", "bounced", None),
    (SENDER, "DSN/DSN", "received", None),
    ("grace@contoso.com", "DEFER/SMTP", "deferred", None),
    ("heidi@contoso.com", "DROP/AGENT", "dropped", "none"),
    ("ivan@contoso.com", "AGENTINFO/AGENT TRA action=quarantine", "quarantined", "quarantine"),
    ("ken@contoso.com", "AGENTINFO/AGENT TRA action=rejectmessage", "rejected", None),
    ("judy@contoso.com", "AGENTINFO/AGENT TRA action=deletemessage", "dropped", "deleted"),
    ("mike@contoso.com", "AGENTINFO/AGENT TRA action=applyhtmldisclaimer", "received", None),
    ("leo@onprem.contoso.com", "SENDEXTERNAL/SMTP", "relayed", "external"),
    ("oscar@contoso.com", "SEND/SMTP", "relayed", None),
    ("walter@contoso.com", "EXPAND/ROUTING", "received", None),
    ("alice@contoso.com", "RESOLVE/ROUTING", "received", None),
    ("walter@contoso.com", "TRANSFER/ROUTING", "received", None),
]


@pytest.mark.parametrize("recipient,raw_status,action,location", EXTENDED_EXPECTED)
def test_extended_mapping(loaded, recipient, raw_status, action, location):
    rows = events(loaded, "ext", recipient=recipient, raw_status=raw_status)
    assert rows, f"no {raw_status} row for {recipient}"
    assert {(r["action"], r["location"]) for r in rows} == {(action, location)}
    assert {(r["hop"], r["verdict_hop"]) for r in rows} == {("server", "server")}


def test_extended_values(loaded):
    [row] = events(loaded, "ext", recipient="bob@contoso.com", action="junked")
    assert row["event_ts"] == utc(2024, 3, 5, 10, 2, 11, 905000)
    assert row["message_id"] == MID and row["vendor_id"] == NMID and row["sender"] == SENDER
    assert row["subject"] == "Your parcel could not be delivered"
    assert row["source_row"] == line_of(EXTENDED, '"bob@contoso.com","","23118","1"')
    assert "DI=SJ" in row["reason"]
    [fail] = events(loaded, "ext", recipient="frank@contoso.com")
    assert fail["reason"].startswith("550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found")
    [dsn] = events(loaded, "ext", raw_status="DSN/DSN")
    assert dsn["message_id"] == "AM6PR04MB1234NDR@eurprd04.prod.outlook.com" and "RecipientNotFound" in dsn["reason"]


def test_extended_multi_recipient_rows_are_split(loaded):
    line = line_of(EXTENDED, '"oscar@contoso.com;peggy@contoso.com"')
    rows = events(loaded, "ext", source_row=line)
    assert [(r["recipient"], r["action"], r["location"]) for r in rows] == [
        ("oscar@contoso.com", "delivered", "inbox"), ("peggy@contoso.com", "delivered", "inbox")]
    line = line_of(EXTENDED, '"alice@contoso.com;bob@contoso.com"')
    assert [r["recipient"] for r in events(loaded, "ext", source_row=line)] == ["alice@contoso.com", "bob@contoso.com"]


def test_extended_without_bom_and_other_header_case(loaded):
    got = [(r["source_row"], r["recipient"], r["action"], r["event_ts"]) for r in events(loaded, "ext-nobom")]
    assert got == [
        (2, "alice@contoso.com", "received", utc(2024, 3, 5, 10, 2, 11, 417000)),
        (2, "bob@contoso.com", "received", utc(2024, 3, 5, 10, 2, 11, 417000)),
        (3, "alice@contoso.com", "received", utc(2024, 3, 5, 10, 2, 11, 903000)),
        (4, "alice@contoso.com", "delivered", utc(2024, 3, 5, 10, 2, 12, 521000)),
    ]
    assert textio.detect_encoding(EXTENDED_NOBOM.read_bytes()[:4096]) == "utf-16-le"


# -- Enhanced summary ---------------------------------------------------------------------------

def test_summary_one_row_per_recipient_last_event_decides(loaded):
    got = [(r["recipient"], r["raw_status"], r["action"], r["location"]) for r in events(loaded, "summary")]
    assert got == [
        ("alice@contoso.com", "Receive, Deliver", "delivered", None),
        ("frank@contoso.com", "Receive, Fail", "bounced", None),
        ("leo@onprem.contoso.com", "Receive, Send", "relayed", "external"),
        ("grace@contoso.com", "Receive, Defer", "deferred", None),
        ("heidi@contoso.com", "Receive", "received", None),
        ("finance@contoso.com", "Receive, Expand", "received", None),
        ("ivan@contoso.com", "Receive, Drop", "dropped", "none"),
    ]
    first = events(loaded, "summary", recipient="alice@contoso.com")[0]
    assert first["event_ts"] == utc(2024, 3, 5, 10, 2, 11, 417000)
    assert first["message_id"] == MID and first["vendor_id"] == NMID and first["sender"] == SENDER
    assert first["source_row"] == 2
    assert "Junk" in first["reason"]  # the summary cannot tell Inbox from Junk


def test_summary_documented_names_and_en_us_dates(loaded):
    got = [(r["recipient"], r["action"], r["event_ts"]) for r in events(loaded, "summary-doc")]
    assert got == [
        ("alice@contoso.com", "delivered", utc(2024, 3, 5, 10, 2, 11)),
        ("frank@contoso.com", "bounced", utc(2024, 3, 5, 10, 2, 11)),
        ("leo@onprem.contoso.com", "relayed", utc(2024, 3, 5, 10, 2, 11)),
        ("bob@contoso.com", "delivered", utc(2024, 3, 5, 13, 15)),
    ]


def test_loaded_into_the_union(loaded):
    n = loaded.sql("SELECT count(*) AS n FROM int_mail_events WHERE source_format = 'm365_trace_extended_csv' "
                   "AND customer = 'summary'")["n"][0]
    assert n == 7


# -- sniffing -----------------------------------------------------------------------------------

def test_samples_claimed_only_by_this_loader():
    for path in sorted(DATA.glob("*.csv")):
        assert claimed_by(path) == ["m365_trace_extended_csv"], path


def test_sniff_does_not_claim_other_fixtures(real):
    for path in sorted(real.rglob("*")):
        if path.is_file() and path.name != "PROVENANCE.md":
            assert "m365_trace_extended_csv" not in claimed_by(path), path


# -- bad input ----------------------------------------------------------------------------------

def _write_utf16(path: Path, lines: list[str], bom: bool = True) -> Path:
    path.write_bytes((codecs.BOM_UTF16_LE if bom else b"") + ("\r\n".join(lines) + "\r\n").encode("utf-16-le"))
    return path


def test_mixed_encodings_utf8_tail_in_utf16_file(empty, tmp_path):
    lines = text_lines(SUMMARY)
    bad = tmp_path / "mixed.csv"
    bad.write_bytes(("\r\n".join(lines[:3]) + "\r\n").encode("utf-16-le") + ("\r\n".join(lines[3:]) + "\r\n").encode("utf-8"))
    with pytest.raises(InputError) as err:
        empty.ingest("acme", [bad])
    assert err.value.line == 4 and "encoding" in err.value.message
    assert_nothing_loaded(empty)


def test_mixed_encodings_utf16_tail_in_utf8_file(empty, tmp_path):
    lines = text_lines(SUMMARY_DOC)
    bad = tmp_path / "mixed.csv"
    bad.write_bytes(("\r\n".join(lines[:2]) + "\r\n").encode("utf-8") + (lines[2] + "\r\n").encode("utf-16-le"))
    with pytest.raises(InputError) as err:
        empty.ingest("acme", [f"{bad}:m365_trace_extended_csv"])
    assert err.value.line == 3 and "encoding" in err.value.message
    assert_nothing_loaded(empty)


def test_wrong_header(empty, tmp_path):
    bad = _write_utf16(tmp_path / "other.csv", ['"Date","Sender","Recipient","Subject","Status"',
                                                '"3/5/2024 10:02 AM","a@x.example","b@y.example","s","Delivered"'])
    assert "m365_trace_extended_csv" not in claimed_by(bad)
    with pytest.raises(InputError) as err:
        empty.ingest("acme", [f"{bad}:m365_trace_extended_csv"])
    assert err.value.line == 1 and "origin_timestamp_utc" in err.value.message and "date_time_utc" in err.value.message
    assert_nothing_loaded(empty)


def test_truncated_line(empty, tmp_path):
    lines = text_lines(EXTENDED)
    bad = _write_utf16(tmp_path / "trunc.csv", lines[:5] + [lines[5][:80] + '"'])
    with pytest.raises(InputError) as err:
        empty.ingest("acme", [bad])
    assert err.value.line == 6 and "fields" in err.value.message
    assert_nothing_loaded(empty)


def test_bad_timestamp(empty, tmp_path):
    lines = text_lines(SUMMARY)
    lines[2] = lines[2].replace("2024-03-05T10:05:40.0000000Z", "05.03.2024 10:05:40")
    bad = _write_utf16(tmp_path / "badts.csv", lines, bom=False)
    with pytest.raises(InputError) as err:
        empty.ingest("acme", [bad])
    assert err.value.line == 3 and "origin_timestamp_utc" in err.value.message
    assert_nothing_loaded(empty)


def test_header_only_and_garbage(empty, tmp_path):
    header_only = _write_utf16(tmp_path / "header.csv", text_lines(SUMMARY)[:1])
    with pytest.raises(InputError) as err:
        empty.ingest("acme", [header_only])
    assert "no records" in err.value.message
    garbage = tmp_path / "garbage.csv"
    garbage.write_text("not,a,trace\n1,2,3\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        empty.ingest("acme", [f"{garbage}:m365_trace_extended_csv"])
    assert err.value.line == 1
    assert_nothing_loaded(empty)


def test_repeated_header_from_concatenated_downloads(loaded):
    got = [(r["source_row"], r["recipient"]) for r in events(loaded, "concatenated")]
    assert got == [(2, "alice@contoso.com"), (2, "frank@contoso.com"), (2, "leo@onprem.contoso.com"),
                   (3, "grace@contoso.com"), (5, "heidi@contoso.com"), (6, "finance@contoso.com"),
                   (6, "ivan@contoso.com")]
