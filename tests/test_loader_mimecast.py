"""Tests of the mimecast_siem and mimecast_api2_json loaders and their staging views.

Real fixtures (../shared/fixtures/real/mimecast): the ECS RFC key=value receipt line and elastic's
test-siem-docs-logs.log (v1 JSON: receipt, process, delivery, AV, spam, internal email protect,
impersonation, TTP URL, attachment records), formats.md §2.2.1.

Own samples in tests/data/mimecast (see its README.md): v1 key=value receipt/process/delivery files, v1 JSON
(array and one-per-line with two records on a line), API 2.0 JSON lines (formats.md §2.2.2).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from phishtrace import Workspace, registry, textio
from phishtrace.errors import InputError
from phishtrace.loaders._filter_helpers import reply_code, rid_tokens

DATA = Path(__file__).parent / "data" / "mimecast"
UTC = timezone.utc
COLS = ("source_row, verdict_hop, event_ts, message_id, vendor_id, sender, recipient, subject, action, location, "
        "reason, raw_status, url, token, client_ip, user_agent")


def ts(*parts) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.fixture(scope="module")
def mws():
    w = Workspace(":memory:")
    yield w
    w.close()


@pytest.fixture
def cust(request) -> str:
    return request.node.name


def staged(ws, view, customer, where="", params=()):
    extra = f" AND {where}" if where else ""
    return ws.sql(f"SELECT {COLS} FROM {view} WHERE customer = ?{extra} ORDER BY load_id, source_row, recipient",
                  [customer, *params]).rows(named=True)


def by_recipient(rows):
    out: dict[str | None, list[dict]] = {}
    for r in rows:
        out.setdefault(r["recipient"], []).append(r)
    return out


def assert_nothing_loaded(ws, customer, table):
    for t in (table, "load_manifest", "load_rejects"):
        assert ws.sql(f"SELECT count(*) AS n FROM {t} WHERE customer = ?", [customer])["n"][0] == 0


def write(tmp_path, name, text) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


# -- helpers ---------------------------------------------------------------------------------

@pytest.mark.parametrize("url, expected", [
    ("https://phish.example.net/login?rid=Ab12Cd3", ["Ab12Cd3"]),
    ("https://x.example/?a=1&amp;rid=Ab12Cd3&b=2", ["Ab12Cd3"]),
    ("https://r.example/?u=https%3A%2F%2Fp.example%2F%3Frid%3DAb12Cd3", ["Ab12Cd3"]),
    ("https://r.example/?u=https%253A%252F%252Fp.example%252F%253Frid%253DAb12Cd3", ["Ab12Cd3"]),
    ("https://p.example/?grid=zzz&rid=Q1w2E3r", ["Q1w2E3r"]),
    ("https://p.example/static/logo.png", []),
])
def test_rid_tokens_plain_escaped_and_encoded(url, expected):
    assert rid_tokens(url) == expected


@pytest.mark.parametrize("texts, expected", [
    (("550", "5.4.1 Recipient address rejected"), "550"),
    ((None, "5.4.1 Recipient address rejected: Access denied"), "5.4.1"),
    ((None, None, "451 4.7.500 Server busy"), "451"),
    ((None, "Blocked by RBL (see 5.7.1 policy)"), "5.7.1"),
    ((None, "Connection to 10.5.500.1 timed out"), None),
])
def test_reply_code(texts, expected):
    assert reply_code(*texts) == expected


# -- detection -------------------------------------------------------------------------------

def _claims(path: Path) -> list[str]:
    with path.open("rb") as fh:
        head = fh.read(textio.HEAD_BYTES)
    return [loader.name for loader in registry.claimants(head)]


@pytest.mark.parametrize("name, fmt", [
    ("siem_v1_receipt.log", "mimecast_siem"),
    ("siem_v1_process.log", "mimecast_siem"),
    ("siem_v1_delivery.log", "mimecast_siem"),
    ("siem_v1_ttp.json", "mimecast_siem"),
    ("siem_v1_lines.json", "mimecast_siem"),
    ("api2_siem.jsonl", "mimecast_api2_json"),
])
def test_own_samples_claimed_by_one_loader(name, fmt):
    assert _claims(DATA / name) == [fmt]


def test_real_fixtures_claimed_by_mimecast_siem_only(real):
    for path in sorted((real / "mimecast").iterdir()):
        assert _claims(path) == ["mimecast_siem"], path.name


def test_mimecast_loaders_claim_no_other_real_fixture(real):
    for path in sorted(real.rglob("*")):
        if path.is_file() and path.parent.name != "mimecast" and path.suffix != ".md":
            claims = _claims(path)
            assert "mimecast_siem" not in claims and "mimecast_api2_json" not in claims, path


# -- real fixtures ---------------------------------------------------------------------------

def test_real_key_value_receipt(mws, cust, real):
    (res,) = mws.ingest(cust, [real / "mimecast" / "mimecast_kv_receipt_from_ecs_rfc.log"])
    assert (res.format, res.hop, res.rows, res.rejects) == ("mimecast_siem", "filter", 1, 0)
    (row,) = staged(mws, "stg_mimecast_siem", cust)
    assert row["event_ts"] == ts(2017, 5, 26, 15, 47, 41)  # 16:47:41+0100
    assert row["message_id"] == "81ce15$8r2j59@mail01.example.com"
    assert row["vendor_id"] == "7O7I7MvGP1mj8plHRDuHEA"
    assert (row["sender"], row["recipient"], row["subject"]) == ("from@mimecast.com", "auser@mimecast.com",
                                                                 "message subject")
    assert (row["action"], row["verdict_hop"], row["raw_status"]) == ("received", "filter", "receipt/Acc")
    raw = mws.sql("SELECT shape, log_kind, act, account, record->>'SpamProcessingDetail' AS spd "
                  "FROM raw_mimecast_siem WHERE customer = ?", [cust]).rows(named=True)[0]
    assert (raw["shape"], raw["log_kind"], raw["act"], raw["account"]) == ("kv", "receipt", "Acc", "C0A0")
    assert raw["spd"].startswith('{"spf":{"info":"SPF_FAIL"')


def test_real_json_docs_every_kind(mws, cust, real):
    (res,) = mws.ingest(cust, [real / "mimecast" / "test-siem-docs-logs.log"])
    assert (res.rows, res.rejects) == (11, 0)
    kinds = mws.sql("SELECT source_row, log_kind FROM raw_mimecast_siem WHERE customer = ? ORDER BY source_row",
                    [cust]).rows()
    assert [k for _, k in kinds] == ["receipt", "process", "process", "process", "delivery", "av", "spam",
                                     "internal_email_protect", "impersonation", "url_protect",
                                     "attachment_protect"]
    rows = {r["source_row"]: r for r in staged(mws, "stg_mimecast_siem", cust)}
    assert rows[1]["action"] == "received" and rows[1]["message_id"] == "messageId@messageid"
    assert rows[2]["action"] == rows[3]["action"] == "passed"
    held = rows[4]
    assert (held["action"], held["location"], held["reason"]) == ("quarantined", "quarantine", "held: Spm")
    assert held["event_ts"] == ts(2017, 5, 26, 18, 24, 18)
    assert held["vendor_id"] == "015vTYvNN-Wn30v7M5MzNw"
    # the process line has no recipient: it takes the one of the delivery line with its Message-ID
    assert held["recipient"] == "auser@mimecast.com"
    delivered = rows[5]
    assert (delivered["action"], delivered["location"], delivered["verdict_hop"]) == ("relayed", "external", "filter")
    assert delivered["reason"].startswith("250 2.6.0 messageId@mssageId")
    assert delivered["event_ts"] == ts(2017, 5, 26, 18, 40, 33)
    assert rows[6]["action"] == "received" and rows[6]["recipient"] == "recipient@recipientdomain.tld"
    assert rows[6]["event_ts"] == ts(2021, 3, 5, 16, 25, 17)  # +0000
    assert rows[8]["action"] == "received" and rows[8]["url"] == "https://domain.com/login/"
    imp = rows[9]
    assert (imp["action"], imp["recipient"]) == ("quarantined", "recipient@domain")
    assert imp["reason"] == "impersonation protect: Default Impersonation Definition"
    assert imp["event_ts"] == ts(2020, 7, 26, 23, 39, 59)
    click = rows[10]
    assert (click["action"], click["url"], click["recipient"]) == (
        "clicked_blocked", "http://bgmtechnology.com.au", "auser@mimecast.com")
    assert click["client_ip"] is None  # sourceIp is the original message's source, not the clicker
    assert rows[11]["action"] == "received"


# -- own samples: v1 --------------------------------------------------------------------------

def test_v1_key_value_every_vendor_value(mws, cust):
    mws.ingest(cust, [DATA / "siem_v1_receipt.log", DATA / "siem_v1_process.log", DATA / "siem_v1_delivery.log"])
    rows = by_recipient(staged(mws, "stg_mimecast_siem", cust))

    def actions(rcpt):
        return [(r["action"], r["verdict_hop"]) for r in sorted(rows[rcpt], key=lambda r: r["event_ts"])]

    alice = rows["alice@corp.example"]
    assert actions("alice@corp.example") == [("received", "filter"), ("quarantined", "filter")]
    assert alice[0]["event_ts"] == ts(2026, 11, 3, 13, 5, 9)
    assert alice[0]["subject"] == "Action required | password expiry"  # '|' inside \...\
    assert alice[0]["sender"] == "bounce@phish.example.net"
    assert alice[0]["message_id"] == "sim-0001@phish.example.net"
    quarantined = [r for r in alice if r["action"] == "quarantined"][0]
    # process line in another file: recipient, sender and subject come from the receipt of its aCode
    assert (quarantined["vendor_id"], quarantined["reason"], quarantined["location"]) == (
        "A1alice0000000000000001", "held: Spm", "quarantine")
    assert quarantined["subject"] == "Action required | password expiry"
    assert actions("bob@corp.example") == [("received", "filter"), ("passed", "filter"), ("passed", "filter"),
                                           ("relayed", "filter")]
    relayed = [r for r in rows["bob@corp.example"] if r["action"] == "relayed"][0]
    assert relayed["location"] == "external" and relayed["reason"].startswith("250 2.6.0")
    # the orphan process line (aCode without receipt) is joined through its Message-ID
    assert {r["vendor_id"] for r in rows["bob@corp.example"] if r["action"] == "passed"} == {
        "A2bob00000000000000002", "Z99orphan000000000000099"}
    carol = actions("carol@corp.example")
    assert carol[-1] == ("bounced", "server")  # 550 from the next hop
    carol_bounce = [r for r in rows["carol@corp.example"] if r["action"] == "bounced"][0]
    assert "5.4.1 Recipient address rejected" in carol_bounce["reason"]
    assert actions("dave@corp.example")[-1] == ("deferred", "filter")  # 451
    erin = rows["erin@corp.example"][0]
    assert (erin["action"], erin["message_id"]) == ("rejected", None)
    assert erin["reason"].startswith("IP Found in RBL: 550 sip.invaluement")
    assert actions("frank@corp.example") == [("bounced", "filter")]
    grace = rows["grace@corp.example"][0]
    assert (grace["action"], grace["location"]) == ("dropped", "none")
    heidi = [r for r in rows["heidi@corp.example"] if r["raw_status"] == "process/Sdbx"][0]
    assert heidi["action"] == "deferred" and "sandbox" in heidi["reason"]
    assert [r["action"] for r in rows["ivan@corp.example"] if r["raw_status"] == "process/Rty"] == ["deferred"]
    assert actions("judy@corp.example") == [("received", "filter"), ("bounced", "filter")]
    # one process line, two receipt lines with its aCode: one event per recipient
    for rcpt in ("kim@corp.example", "leo@corp.example"):
        assert actions(rcpt) == [("received", "filter"), ("passed", "filter")]
        assert rows[rcpt][-1]["subject"] == "Team offsite"


def test_v1_process_loaded_before_receipt_still_joins(mws, cust):
    mws.ingest(cust, [DATA / "siem_v1_process.log"])
    before = staged(mws, "stg_mimecast_siem", cust, "vendor_id = ?", ["A11team0000000000000011"])
    assert [r["recipient"] for r in before] == [None]
    mws.ingest(cust, [DATA / "siem_v1_receipt.log"])
    after = staged(mws, "stg_mimecast_siem", cust, "vendor_id = ? AND action = 'passed'", ["A11team0000000000000011"])
    assert [r["recipient"] for r in after] == ["kim@corp.example", "leo@corp.example"]


def test_v1_ttp_clicks_and_impersonation(mws, cust):
    (res,) = mws.ingest(cust, [DATA / "siem_v1_ttp.json"])
    assert (res.format, res.rows) == ("mimecast_siem", 5)
    rows = {r["source_row"]: r for r in staged(mws, "stg_mimecast_siem", cust)}
    blocked = rows[1]
    assert (blocked["action"], blocked["token"], blocked["recipient"]) == ("clicked_blocked", "Ab12Cd3",
                                                                         "bob@corp.example")
    assert blocked["event_ts"] == ts(2026, 11, 3, 13, 20, 41)
    assert blocked["message_id"] == "sim-0002@phish.example.net"
    assert blocked["client_ip"] is None and blocked["user_agent"] is None
    allowed = rows[2]
    assert (allowed["action"], allowed["token"]) == ("clicked", "Ab12Cd3")  # rid inside an encoded URL
    assert (allowed["client_ip"], allowed["user_agent"]) == ("192.0.2.44", "Mozilla/5.0 (Windows NT 10.0; Win64; x64)")
    assert (rows[3]["action"], rows[3]["token"]) == ("clicked_blocked", "Zz98Yx7")  # no action, category Blocked
    assert (rows[4]["action"], rows[4]["location"], rows[4]["recipient"]) == (
        "quarantined", "quarantine", "mallory@corp.example")
    assert rows[5]["action"] == "received"


def test_v1_json_line_with_two_records(mws, cust):
    (res,) = mws.ingest(cust, [DATA / "siem_v1_lines.json"])
    assert (res.rows, res.rejects) == (3, 0)
    rows = staged(mws, "stg_mimecast_siem", cust)
    assert [(r["source_row"], r["recipient"], r["action"]) for r in rows] == [
        (1, "oscar@corp.example", "received"), (2, "oscar@corp.example", "relayed"),
        (2, "peggy@corp.example", "bounced")]
    assert rows[2]["verdict_hop"] == "server"
    assert rows[2]["event_ts"] == ts(2026, 11, 3, 13, 6, 41)


def test_v1_rows_reach_int_mail_events(mws, cust):
    mws.ingest(cust, [DATA / "siem_v1_delivery.log"])
    got = mws.sql("SELECT source_format, hop, action, recipient FROM int_mail_events WHERE customer = ? "
                  "ORDER BY source_row", [cust]).rows()
    assert got == [("mimecast_siem", "filter", "relayed", "bob@corp.example"),
                   ("mimecast_siem", "filter", "bounced", "carol@corp.example"),
                   ("mimecast_siem", "filter", "deferred", "dave@corp.example")]


# -- own samples: API 2.0 ---------------------------------------------------------------------

def test_api2_every_vendor_value(mws, cust):
    (res,) = mws.ingest(cust, [DATA / "api2_siem.jsonl"])
    assert (res.format, res.hop, res.rejects) == ("mimecast_api2_json", "filter", 0)
    rows = {}
    for r in staged(mws, "stg_mimecast_api2_json", cust):
        rows.setdefault(r["source_row"], []).append(r)
    (verbatim_rej,) = rows[3]
    assert (verbatim_rej["action"], verbatim_rej["message_id"], verbatim_rej["recipient"]) == (
        "rejected", None, "johndoe@example.com")
    assert verbatim_rej["event_ts"] == ts(2025, 6, 13, 8, 14, 13, 769000)
    assert verbatim_rej["reason"].startswith("IP Found in RBL: 550 sip.invaluement.mimecast.org")
    (verbatim_delivery,) = rows[2]
    assert (verbatim_delivery["action"], verbatim_delivery["location"]) == ("relayed", "external")
    assert verbatim_delivery["message_id"] == "11111111111111111111111111111111111111@example.com"
    assert verbatim_delivery["event_ts"] == ts(2024, 11, 9, 21, 27, 29, 343000)
    # process Hld without recipients: joined to the receipt with its aggregateId
    (alice_hold,) = rows[5]
    assert (alice_hold["action"], alice_hold["recipient"], alice_hold["reason"]) == (
        "quarantined", "alice@corp.example", "held: Spm")
    assert alice_hold["vendor_id"] == "agg-alice_1762175109"
    assert alice_hold["event_ts"] == ts(2025, 11, 3, 13, 5, 11)
    assert [(r["action"], r["recipient"]) for r in rows[7]] == [("passed", "bob@corp.example")]
    assert rows[7][0]["event_ts"] == ts(2025, 11, 3, 13, 5, 12)  # timestamp given as a string
    (bob_delivery,) = rows[8]
    assert bob_delivery["action"] == "relayed"
    assert bob_delivery["reason"] == "handed to corp-example.mail.protection.outlook.com"
    (carol,) = rows[9]
    assert (carol["action"], carol["verdict_hop"]) == ("bounced", "server")
    (dave,) = rows[10]
    assert (dave["action"], dave["verdict_hop"], dave["reason"]) == (
        "deferred", "filter", "451 4.7.500 Server busy. Please try again later")
    assert [r["action"] for r in rows[11]] == ["bounced"]
    assert [(r["action"], r["location"]) for r in rows[12]] == [("dropped", "none")]
    assert [r["recipient"] for r in rows[13]] == ["kim@corp.example", "leo@corp.example"]
    assert [(r["action"], r["recipient"]) for r in rows[14]] == [("deferred", "kim@corp.example"),
                                                                  ("deferred", "leo@corp.example")]
    (ivan,) = rows[15]  # process record whose receipt was not loaded
    assert (ivan["action"], ivan["recipient"], ivan["message_id"]) == ("deferred", None, "sim-0109@phish.example.net")
    assert [r["action"] for r in rows[16]] == ["bounced"]
    (block,) = rows[17]
    assert (block["action"], block["token"], block["url"]) == (
        "clicked_blocked", "Ab12Cd3", "https://phish.example.net/login?rid=Ab12Cd3")
    (clean,) = rows[18]
    assert (clean["action"], clean["token"]) == ("clicked", "Zz98Yx7")  # rid in a double-encoded URL
    (imp,) = rows[19]  # older eventType/subType keys
    assert (imp["action"], imp["reason"]) == ("quarantined", "impersonation protect: Default Impersonation Definition")
    assert imp["event_ts"] == ts(2023, 7, 18, 13, 2, 18, 545000)
    assert [r["action"] for r in rows[20]] == ["received"]


# -- bad input ---------------------------------------------------------------------------------

def test_empty_file(mws, cust, tmp_path):
    path = write(tmp_path, "empty.log", "\n\n")
    with pytest.raises(InputError) as exc:
        mws.ingest(cust, [f"{path}:mimecast_siem"])
    assert exc.value.line == 1 and "empty" in exc.value.message
    assert_nothing_loaded(mws, cust, "raw_mimecast_siem")


def test_truncated_json_line(mws, cust, tmp_path):
    lines = (DATA / "siem_v1_lines.json").read_text().splitlines()
    path = write(tmp_path, "trunc.json", lines[0] + "\n" + lines[1][:120] + "\n")
    with pytest.raises(InputError) as exc:
        mws.ingest(cust, [path])
    assert exc.value.path == str(path) and exc.value.line == 2
    assert "not valid JSON" in exc.value.message
    assert_nothing_loaded(mws, cust, "raw_mimecast_siem")


def test_truncated_key_value_line(mws, cust, tmp_path):
    lines = (DATA / "siem_v1_receipt.log").read_text().splitlines()
    cut = lines[1][: lines[1].index("Subject=") + 20]  # inside \...\
    path = write(tmp_path, "trunc.log", "\n".join([lines[0], cut, lines[2]]) + "\n")
    with pytest.raises(InputError) as exc:
        mws.ingest(cust, [path])
    assert exc.value.line == 2 and "not closed" in exc.value.message
    assert_nothing_loaded(mws, cust, "raw_mimecast_siem")


@pytest.mark.parametrize("bad, expected", [
    ("2026-13-03T14:05:09+0100", "invalid timestamp"),
    ("2026-11-03T14:05:09", "no time zone"),
    ("03/11/2026 14:05", "ISO 8601"),
])
def test_bad_v1_timestamp(mws, cust, tmp_path, bad, expected):
    lines = (DATA / "siem_v1_receipt.log").read_text().splitlines()[:3]
    lines[2] = lines[2].replace("2026-11-03T14:05:11+0100", bad)
    path = write(tmp_path, "bad_ts.log", "\n".join(lines) + "\n")
    with pytest.raises(InputError) as exc:
        mws.ingest(cust, [f"{path}:mimecast_siem"])
    assert exc.value.line == 3 and expected in exc.value.message
    assert_nothing_loaded(mws, cust, "raw_mimecast_siem")


def test_bad_api2_timestamp(mws, cust, tmp_path):
    lines = (DATA / "api2_siem.jsonl").read_text().splitlines()[3:6]
    lines[1] = lines[1].replace('"timestamp": 1762175111000', '"timestamp": "yesterday"')
    path = write(tmp_path, "bad_ts.jsonl", "\n".join(lines) + "\n")
    with pytest.raises(InputError) as exc:
        mws.ingest(cust, [path])
    assert exc.value.line == 2 and "epoch ms" in exc.value.message
    assert_nothing_loaded(mws, cust, "raw_mimecast_api2_json")


def test_api2_file_given_as_v1(mws, cust):
    with pytest.raises(InputError) as exc:
        mws.ingest(cust, [f"{DATA / 'api2_siem.jsonl'}:mimecast_siem"])
    assert exc.value.line == 1 and "mimecast_api2_json" in exc.value.message
    assert_nothing_loaded(mws, cust, "raw_mimecast_siem")


@pytest.mark.parametrize("name", ["siem_v1_ttp.json", "siem_v1_lines.json", "siem_v1_receipt.log"])
def test_v1_file_given_as_api2(mws, cust, name):
    with pytest.raises(InputError) as exc:
        mws.ingest(cust, [f"{DATA / name}:mimecast_api2_json"])
    assert exc.value.line == 1 and "mimecast_siem" in exc.value.message
    assert_nothing_loaded(mws, cust, "raw_mimecast_api2_json")


def test_garbage_forced_as_v1(mws, cust, tmp_path):
    path = write(tmp_path, "garbage.log", "hello world\nthis is not a SIEM log\n")
    with pytest.raises(InputError) as exc:
        mws.ingest(cust, [f"{path}:mimecast_siem"])
    assert exc.value.line == 1 and "key=value" in exc.value.message
    assert_nothing_loaded(mws, cust, "raw_mimecast_siem")


def test_one_bad_line_in_a_large_file_is_a_reject(mws, cust, tmp_path):
    template = (DATA / "siem_v1_receipt.log").read_text().splitlines()[1]
    lines = [template.replace("bob@corp.example", f"user{i}@corp.example") for i in range(150)]
    lines[99] = lines[99][:60]  # cut inside the MsgId field: still key=value, but then a broken field follows
    lines[99] = lines[99].replace("datetime=2026-11-03T14:05:10+0100", "datetime=2026-11-03T14:05")
    path = write(tmp_path, "big.log", "\n".join(lines) + "\n")
    (res,) = mws.ingest(cust, [path])
    assert (res.rows, res.rejects) == (149, 1)
    rejects = mws.sql("SELECT line, reason FROM load_rejects WHERE customer = ?", [cust]).rows()
    assert rejects[0][0] == 100 and "timestamp" in rejects[0][1]
    assert mws.sql("SELECT count(*) AS n FROM stg_mimecast_siem WHERE customer = ?", [cust])["n"][0] == 149
