"""Tests of the cisco_esa_text and cisco_esa_cef loaders and their staging views.

Real fixtures (../shared/fixtures/real/cisco_esa): elastic's mail_logs.@123456789.s and bounces.@123456789.s,
formats.md §2.3.1 and §2.3.2 (appliance local time, no zone).

Own samples in tests/data/cisco_esa (see its README.md): a campaign in the file form, the next file with a
quarantine release under a new MID, syslog-pushed lines from two appliances across New Year, a bounce log in
the AsyncOS guide's form, and consolidated event (CEF) lines (formats.md §2.3.3).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from phishtrace import Workspace, registry, textio
from phishtrace.errors import InputError

DATA = Path(__file__).parent / "data" / "cisco_esa"
CAMPAIGN = DATA / "mail_logs.@20261103T140000.s"
NEXT_FILE = DATA / "mail_logs.@20261103T180000.s"
SYSLOG = DATA / "mail_logs_syslog.log"
BOUNCES = DATA / "bounces.@20261103T140000.s"
CEF = DATA / "consolidated_event.log"
UTC = timezone.utc
COLS = ("load_id, source_row, verdict_hop, event_ts, message_id, vendor_id, sender, recipient, subject, action, "
        "location, reason, raw_status, token")


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


def staged(ws, view, customer):
    return ws.sql(f"SELECT {COLS} FROM {view} WHERE customer = ? ORDER BY load_id, source_row, recipient",
                  [customer]).rows(named=True)


def by_recipient(rows):
    out: dict[str | None, list[dict]] = {}
    for r in rows:
        out.setdefault(r["recipient"], []).append(r)
    return out


def assert_nothing_loaded(ws, customer, table):
    for t in (table, "load_manifest", "load_rejects"):
        assert ws.sql(f"SELECT count(*) AS n FROM {t} WHERE customer = ?", [customer])["n"][0] == 0


def write(tmp_path, name, lines) -> Path:
    p = tmp_path / name
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def _claims(path: Path) -> list[str]:
    with path.open("rb") as fh:
        head = fh.read(textio.HEAD_BYTES)
    return [loader.name for loader in registry.claimants(head)]


# -- detection -------------------------------------------------------------------------------

@pytest.mark.parametrize("path, fmt", [
    (CAMPAIGN, "cisco_esa_text"), (NEXT_FILE, "cisco_esa_text"), (SYSLOG, "cisco_esa_text"),
    (BOUNCES, "cisco_esa_text"), (CEF, "cisco_esa_cef"),
])
def test_own_samples_claimed_by_one_loader(path, fmt):
    assert _claims(path) == [fmt]


def test_real_fixtures_claimed_by_cisco_esa_text_only(real):
    for path in sorted((real / "cisco_esa").iterdir()):
        assert _claims(path) == ["cisco_esa_text"], path.name


def test_cisco_loaders_claim_no_other_real_fixture(real):
    for path in sorted(real.rglob("*")):
        if path.is_file() and path.parent.name != "cisco_esa" and path.suffix != ".md":
            claims = _claims(path)
            assert "cisco_esa_text" not in claims and "cisco_esa_cef" not in claims, path


# -- real fixtures ---------------------------------------------------------------------------

def test_real_mail_log_stitched_per_recipient(mws, cust, real):
    (res,) = mws.ingest(cust, [real / "cisco_esa" / "mail_logs.@123456789.s"], tz="Europe/Paris")
    assert (res.format, res.hop, res.rejects) == ("cisco_esa_text", "filter", 0)
    kinds = mws.sql("SELECT source_row, kind, mid, rid FROM raw_cisco_esa_text WHERE customer = ? "
                    "ORDER BY source_row", [cust]).rows()
    assert kinds == [(7, "from", 6, None), (8, "rcpt", 6, 0), (13, "done", 6, 0),
                     (21, "response", 68119155, 0), (22, "subject", 68119155, None),
                     (30, "message_id", 68119155, None)]
    rows = staged(mws, "stg_cisco_esa_text", cust)
    assert [(r["source_row"], r["action"], r["recipient"]) for r in rows] == [
        (8, "received", "example.com"), (13, "relayed", "example.com"), (21, "relayed", None)]
    received, done, response = rows
    # Fri Mar 25 20:50:10 2022 in Paris (CET, +01:00)
    assert received["event_ts"] == done["event_ts"] == ts(2022, 3, 25, 19, 50, 10)
    assert (received["vendor_id"], received["sender"]) == ("MID 6", "example.com")
    assert (done["location"], done["verdict_hop"], done["raw_status"]) == ("external", "filter", "Message done")
    # the Response of MID 68119155 stands for the delivery (no 'Message done' line for it)
    assert response["event_ts"] == ts(2022, 9, 12, 9, 0, 0)  # CEST, +02:00
    assert response["message_id"] == "redacted@redactedmailfrom.com"
    assert response["subject"] == "redacted subject"
    assert response["reason"] == "2.0.0 OK  1687954632 redactedstring - gsmtp"
    assert response["vendor_id"] == "MID 68119155"


def test_real_mail_log_zone_is_applied(mws, cust, real):
    mws.ingest(cust, [real / "cisco_esa" / "mail_logs.@123456789.s"], tz="America/New_York")
    first = staged(mws, "stg_cisco_esa_text", cust)[0]
    assert first["event_ts"] == ts(2022, 3, 26, 0, 50, 10)  # 20:50:10 EDT
    tz_note = mws.sql("SELECT tz_assumption FROM load_manifest WHERE customer = ?", [cust])["tz_assumption"][0]
    assert tz_note == "America/New_York"


def test_real_bounce_log(mws, cust, real):
    (res,) = mws.ingest(cust, [real / "cisco_esa" / "bounces.@123456789.s"], tz="UTC")
    assert (res.rows, res.rejects) == (2, 0)
    first, second = staged(mws, "stg_cisco_esa_text", cust)
    assert (first["action"], first["verdict_hop"], first["raw_status"]) == ("bounced", "server", "Bounced 5.1.0 550")
    assert first["event_ts"] == ts(2003, 1, 29, 0, 6, 30)
    assert (first["vendor_id"], first["sender"], first["recipient"]) == ("MID 15232", "example.com", "example.com")
    assert first["reason"].startswith("5.1.0 - Unknown address error ('550', ['5.1.1 The email account")
    # 'Bounced: 123:123' (MID:RID) with no SMTP reply: the ESA's own bounce
    assert (second["action"], second["verdict_hop"], second["vendor_id"]) == ("bounced", "filter", "MID 123")


def test_real_mail_log_needs_tz(mws, cust, real):
    with pytest.raises(InputError) as exc:
        mws.ingest(cust, [real / "cisco_esa" / "mail_logs.@123456789.s"])
    assert "--tz" in exc.value.message
    assert_nothing_loaded(mws, cust, "raw_cisco_esa_text")


# -- own samples: text logs ------------------------------------------------------------------

def test_campaign_every_stage(mws, cust):
    (res,) = mws.ingest(cust, [CAMPAIGN], tz="Europe/Paris")
    assert res.rejects == 0
    rows = by_recipient(staged(mws, "stg_cisco_esa_text", cust))

    def actions(rcpt):
        return [(r["action"], r["verdict_hop"]) for r in rows[rcpt]]

    alice = rows["alice@corp.example"]
    assert actions("alice@corp.example") == [("received", "filter"), ("relayed", "filter")]
    assert alice[0]["event_ts"] == ts(2026, 11, 3, 13, 5, 2)
    assert alice[0]["message_id"] == "sim-0201@phish.example.net"
    assert alice[0]["sender"] == "bounce@phish.example.net"
    assert alice[0]["subject"] == "Action required: password expiry"
    # one rid in a plain and an encoded URL of the MID: on every event of its single recipient
    assert {r["token"] for r in alice} == {"Ab12Cd3"}
    assert alice[1]["reason"] == "2.6.0 <sim-0201@phish.example.net> [InternalId=1] Queued mail for delivery"
    assert alice[1]["location"] == "external"
    for rcpt in ("bob@corp.example", "carol@corp.example"):
        assert actions(rcpt) == [("received", "filter"), ("quarantined", "filter")]
        quarantined = rows[rcpt][1]
        assert (quarantined["location"], quarantined["reason"]) == (
            "quarantine", "Policy (message filter:phish_sim_hold)")
        assert quarantined["subject"] == "Team offsite"  # '…' quoting
        assert quarantined["token"] is None  # a rid on a MID with two recipients belongs to neither
    dave = rows["dave@corp.example"]
    assert actions("dave@corp.example") == [("received", "filter"), ("quarantined", "filter"), ("dropped", "filter")]
    assert dave[0]["subject"] == "Re: invoice overdue"  # unquoted, literal \r\n unfolded
    assert (dave[2]["location"], dave[2]["event_ts"]) == ("none", ts(2026, 11, 4, 15, 0, 0))
    assert dave[2]["reason"] == "deleted from Outbreak (expired)"
    erin = rows["erin@corp.example"][1]
    assert (erin["action"], erin["verdict_hop"], erin["raw_status"]) == ("bounced", "server", "Bounced 5.1.0 550")
    assert "RESOLVER.ADR.RecipientNotFound" in erin["reason"]
    assert actions("frank@corp.example") == [("received", "filter"), ("deferred", "filter")]
    assert rows["frank@corp.example"][1]["raw_status"] == "Delayed 4.1.0 466"
    grace = rows["grace@corp.example"][1]
    assert (grace["action"], grace["raw_status"]) == ("quarantined", 'quarantined to "Spam Quarantine"')
    heidi = rows["heidi@corp.example"][1]
    assert (heidi["action"], heidi["verdict_hop"]) == ("bounced", "filter")  # DCID 0: expired at the ESA
    assert heidi["event_ts"] == ts(2026, 11, 4, 13, 5, 10)
    ivan = rows["ivan@corp.example"][1]
    assert (ivan["action"], ivan["raw_status"]) == ("relayed", "Response 2.6.0")  # unquoted Response
    judy = rows["judy@corp.example"][1]
    assert (judy["action"], judy["reason"]) == ("relayed", "accepted by the next hop")  # MID n RID [k] done


def test_release_in_a_later_file_follows_the_new_mid(mws, cust):
    mws.ingest(cust, [CAMPAIGN], tz="Europe/Paris")
    mws.ingest(cust, [NEXT_FILE], tz="Europe/Paris")
    rows = by_recipient(staged(mws, "stg_cisco_esa_text", cust))
    for rcpt in ("bob@corp.example", "carol@corp.example"):
        got = [(r["action"], r["vendor_id"], r["event_ts"]) for r in rows[rcpt]]
        assert got == [
            ("received", "MID 102", ts(2026, 11, 3, 13, 5, 3)),
            ("quarantined", "MID 102", ts(2026, 11, 3, 13, 5, 4)),
            ("released", "MID 102", ts(2026, 11, 3, 17, 30, 0)),
            ("relayed", "MID 201", ts(2026, 11, 3, 17, 30, 2)),
        ]
        relayed = rows[rcpt][-1]
        # MID 201 inherits the Message-ID, sender and subject of MID 102
        assert (relayed["message_id"], relayed["sender"], relayed["subject"]) == (
            "sim-0202@phish.example.net", "bounce@phish.example.net", "Team offsite")
        assert relayed["reason"] == "2.6.0 <sim-0202@phish.example.net> Queued mail for delivery"


def test_syslog_needs_year(mws, cust):
    with pytest.raises(InputError) as exc:
        mws.ingest(cust, [SYSLOG], tz="UTC")
    assert exc.value.line == 1 and "--year" in exc.value.message
    assert_nothing_loaded(mws, cust, "raw_cisco_esa_text")


def test_syslog_needs_tz(mws, cust):
    with pytest.raises(InputError) as exc:
        mws.ingest(cust, [SYSLOG], year=2025)
    assert "--tz" in exc.value.message
    assert_nothing_loaded(mws, cust, "raw_cisco_esa_text")


def test_syslog_hosts_and_new_year(mws, cust):
    (res,) = mws.ingest(cust, [SYSLOG], tz="UTC", year=2025)
    assert res.rejects == 0
    rows = by_recipient(staged(mws, "stg_cisco_esa_text", cust))
    kim = rows["kim@corp.example"]
    # esa1's MID 301: received on 31 December, delivered after midnight (the year moves on)
    assert [(r["action"], r["event_ts"]) for r in kim] == [("received", ts(2025, 12, 31, 23, 59, 56)),
                                                           ("relayed", ts(2026, 1, 1, 0, 0, 2))]
    assert {r["vendor_id"] for r in kim} == {"esa1.corp.example MID 301"}
    assert kim[1]["message_id"] == "sim-0301@phish.example.net" and kim[1]["subject"] == "Happy new year"
    # esa2 also uses MID 301: its quarantine does not touch esa1's recipient
    leo = rows["leo@corp.example"]
    assert [r["action"] for r in leo] == ["received", "quarantined"]
    assert {r["vendor_id"] for r in leo} == {"esa2.corp.example MID 301"}
    assert leo[1]["message_id"] == "sim-0302@phish.example.net"


def test_bounce_log_form(mws, cust):
    mws.ingest(cust, [BOUNCES], tz="Europe/Paris")
    rows = {r["recipient"]: r for r in staged(mws, "stg_cisco_esa_text", cust)}
    mallory = rows["mallory@corp.example"]
    assert (mallory["action"], mallory["verdict_hop"], mallory["vendor_id"]) == ("bounced", "server", "MID 45346670")
    assert mallory["reason"] == "5.1.0 - Unknown address error ('550', ['There is no such active account.'])"
    assert mallory["sender"] == "bounce@phish.example.net"
    assert mallory["event_ts"] == ts(2026, 11, 3, 13, 6, 59)
    assert (rows["nina@corp.example"]["action"], rows["nina@corp.example"]["raw_status"]) == (
        "deferred", "Delayed 4.1.0 451")
    oscar = rows["oscar@corp.example"]
    assert (oscar["action"], oscar["verdict_hop"]) == ("bounced", "filter")  # ('000', []): no reply


def test_text_rows_reach_int_mail_events(mws, cust):
    mws.ingest(cust, [BOUNCES], tz="UTC")
    got = mws.sql("SELECT source_format, hop, verdict_hop, action FROM int_mail_events WHERE customer = ? "
                  "ORDER BY source_row", [cust]).rows()
    assert got == [("cisco_esa_text", "filter", "server", "bounced"),
                   ("cisco_esa_text", "filter", "filter", "deferred"),
                   ("cisco_esa_text", "filter", "filter", "bounced")]


# -- bad input: text logs ----------------------------------------------------------------------

def _campaign_lines(n: int) -> list[str]:
    return CAMPAIGN.read_text().splitlines()[:n]


def test_line_of_another_format_in_the_middle(mws, cust, tmp_path):
    lines = _campaign_lines(12)
    lines.insert(6, "Nov  3 14:05:02 mx1 postfix/smtp[4711]: 3F2A1: to=<alice@corp.example>, status=sent (250 ok)")
    path = write(tmp_path, "mixed.s", lines)
    with pytest.raises(InputError) as exc:
        mws.ingest(cust, [f"{path}:cisco_esa_text"], tz="UTC")
    assert exc.value.path == str(path) and exc.value.line == 7
    assert "not a Cisco ESA log line" in exc.value.message
    assert_nothing_loaded(mws, cust, "raw_cisco_esa_text")


def test_one_foreign_line_in_a_large_file_is_a_reject(mws, cust, tmp_path):
    lines = CAMPAIGN.read_text().splitlines() * 3  # 138 facts: one bad line stays under 1 %
    lines.insert(40, "CEF:0|Cisco|C600v Email Security Virtual Appliance|15.5|ESA_CONSOLIDATED_LOG_EVENT|x|5|"
                     "act=DELIVERED")
    path = write(tmp_path, "big.s", lines)
    (res,) = mws.ingest(cust, [path], tz="UTC")
    assert (res.rows, res.rejects) == (138, 1)
    assert mws.sql("SELECT line FROM load_rejects WHERE customer = ?", [cust]).rows() == [(41,)]


@pytest.mark.parametrize("bad_line, line_no", [
    ("Tue Nov 31 14:05:02 2026 Info: Start MID 101 ICID 5001", 5),  # no 31 November
    ("Tue Nov  3 14:05:0", 5),  # truncated
    ("Tue Xyz  3 14:05:02 2026 Info: Start MID 101 ICID 5001", 5),  # no such month
])
def test_bad_timestamp_or_truncated_line(mws, cust, tmp_path, bad_line, line_no):
    lines = _campaign_lines(12)
    lines[line_no - 1] = bad_line
    path = write(tmp_path, "bad.s", lines)
    with pytest.raises(InputError) as exc:
        mws.ingest(cust, [f"{path}:cisco_esa_text"], tz="UTC")
    assert exc.value.line == line_no
    assert_nothing_loaded(mws, cust, "raw_cisco_esa_text")


def test_bounced_line_without_mid(mws, cust, tmp_path):
    lines = _campaign_lines(10) + ["Tue Nov  3 14:05:22 2026 Info: Bounced: garbage without ids"]
    path = write(tmp_path, "bad_bounce.s", lines)
    with pytest.raises(InputError) as exc:
        mws.ingest(cust, [path], tz="UTC")
    assert exc.value.line == 11 and "without a MID" in exc.value.message
    assert_nothing_loaded(mws, cust, "raw_cisco_esa_text")


def test_empty_file(mws, cust, tmp_path):
    path = tmp_path / "empty.s"
    path.write_text("")
    with pytest.raises(InputError) as exc:
        mws.ingest(cust, [f"{path}:cisco_esa_text"], tz="UTC")
    assert exc.value.line == 1 and "empty" in exc.value.message
    assert_nothing_loaded(mws, cust, "raw_cisco_esa_text")


def test_cef_file_given_as_text(mws, cust):
    with pytest.raises(InputError) as exc:
        mws.ingest(cust, [f"{CEF}:cisco_esa_text"], tz="UTC")
    assert exc.value.line == 1 and "not a Cisco ESA log line" in exc.value.message
    assert_nothing_loaded(mws, cust, "raw_cisco_esa_text")


# -- consolidated event logs (CEF) -------------------------------------------------------------

def test_cef_every_act(mws, cust):
    (res,) = mws.ingest(cust, [CEF], tz="Europe/Paris")
    assert (res.format, res.hop, res.rows, res.rejects) == ("cisco_esa_cef", "filter", 8, 0)
    rows = staged(mws, "stg_cisco_esa_cef", cust)
    first, second = rows[0], rows[1]
    assert [first["recipient"], second["recipient"]] == ["dest1@reception.com", "dest2@reception.com"]
    assert first["message_id"] == "ABC@parp264mb5994.frap264.prod.outlook.com"
    assert (first["action"], first["location"], first["raw_status"]) == ("relayed", "external", "DELIVERED")
    assert first["event_ts"] == ts(2025, 8, 6, 5, 45, 58)  # start=Wed Aug 6 07:45:58 2025, CEST
    assert (first["vendor_id"], first["sender"], first["subject"]) == (
        "MID 75132386", "sender@sender-domain.com", "Subject")
    by_mid = {r["vendor_id"]: r for r in rows[2:]}
    quarantined = by_mid["MID 5001"]
    assert (quarantined["action"], quarantined["location"], quarantined["reason"]) == (
        "quarantined", "quarantine", "To POLICY")
    assert quarantined["event_ts"] == ts(2026, 11, 3, 13, 5, 2)  # startTime, space-padded day
    assert (quarantined["recipient"], quarantined["sender"]) == ("alice@corp.example", "bounce@phish.example.net")
    assert quarantined["message_id"] == "sim-0401@phish.example.net"
    assert quarantined["subject"] == "Action required: password expiry = now"
    assert quarantined["token"] == "Ab12Cd3"  # from ESAURLDetails
    bounced = by_mid["MID 5002"]
    assert (bounced["action"], bounced["verdict_hop"]) == ("bounced", "server")  # ESADCID + 5.x.x
    assert bounced["subject"] == "Team offsite ✓"  # =20-encoded
    expired = by_mid["MID 5003"]
    assert (expired["action"], expired["verdict_hop"], expired["reason"]) == (
        "bounced", "filter", "5.4.7 - Delivery expired")
    held = by_mid["MID 5004"]
    assert (held["action"], held["location"], held["raw_status"]) == ("deferred", "quarantine", "DQ")
    assert held["message_id"] == "CAKEaRS+qOfSncg8ppnitd=jqiqDs28@mail.gmail.com"
    assert held["subject"] == "Dave's invoice"
    aborted = by_mid["esa1.corp.example MID 5005"]
    assert (aborted["action"], aborted["reason"]) == ("received", "Receiving aborted by sender")
    partial = by_mid["MID 5006"]
    assert (partial["action"], partial["raw_status"], partial["recipient"]) == ("received", "ESAStatus=QUEUED", None)
    assert partial["event_ts"] == ts(2026, 11, 3, 13, 5, 14)


def test_cef_rows_reach_int_mail_events(mws, cust):
    mws.ingest(cust, [CEF], tz="UTC")
    n = mws.sql("SELECT count(*) AS n FROM int_mail_events WHERE customer = ? AND source_format = 'cisco_esa_cef'",
                [cust])["n"][0]
    assert n == 8


def test_cef_needs_tz(mws, cust):
    with pytest.raises(InputError) as exc:
        mws.ingest(cust, [CEF])
    assert "--tz" in exc.value.message
    assert_nothing_loaded(mws, cust, "raw_cisco_esa_cef")


@pytest.mark.parametrize("bad_line, expected", [
    (CAMPAIGN.read_text().splitlines()[3], "not a CEF line"),
    ("CEF:0|Cisco|C600v Email Security Virtual Appliance|15.5.1-055|ESA_CONSOLIDATED_LOG", "truncated CEF header"),
    ("CEF:0|Proofpoint|PPS|8.0|MSGBLK|Message blocked|5|act=BLOCKED", "not a Cisco ESA consolidated event"),
    ("CEF:0|Cisco|C600v Email Security Virtual Appliance|15.5.1-055|ESA_CONSOLIDATED_LOG_EVENT|Consolidated Log "
     "Event|5|ESAMID=9 start=Tue Nov 31 14:05:14 2026 act=DELIVERED duser=a@corp.example", "day is out of range"),
    ("CEF:0|Cisco|C600v Email Security Virtual Appliance|15.5.1-055|ESA_CONSOLIDATED_LOG_EVENT|Consolidated Log "
     "Event|5|ESAMID=9 act=DELIVERED duser=a@corp.example", "without start"),
])
def test_cef_bad_line_in_the_middle(mws, cust, tmp_path, bad_line, expected):
    lines = CEF.read_text().splitlines()
    lines.insert(2, bad_line)
    path = write(tmp_path, "bad.log", lines)
    with pytest.raises(InputError) as exc:
        mws.ingest(cust, [path], tz="UTC")
    assert exc.value.line == 3 and expected in exc.value.message
    assert_nothing_loaded(mws, cust, "raw_cisco_esa_cef")
