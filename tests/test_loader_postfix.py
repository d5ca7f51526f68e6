"""Tests of the postfix_log loader and stg_postfix_log.

Real fixtures (../shared/fixtures/real/postfix), formats.md §3.6:
* lightmeter 2, 3, 6: full syslog logs (RFC 3164 stamps) with a content filter hop, bounces, local
  delivery through Dovecot, a greylisting deferral then retry, and one corrupted line (`ec  7 …`).
  Their year and zone come from the logs themselves: lightmeter 2 has a Gmail reply with the epoch
  1607509104 (2020-12-09 10:18:24 UTC) and a Postfix-made Message-ID 20201209101826…; lightmeter 3
  has amavis' `Sun, 10 Jan 2021 16:15:30 +0000 (UTC)`. So the hosts log UTC.
* whyscream POSTFIX_{SMTP,CLEANUP,QMGR}: message parts without syslog prefix (no time at all).

Own samples in tests/data/postfix (see its README), written to follow formats.md §3.6.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from phishtrace import registry, textio
from phishtrace.errors import InputError

DATA = Path(__file__).parent / "data" / "postfix"
UTC = timezone.utc
FMT = "postfix_log"
COLS = ("source_row, event_ts, message_id, vendor_id, sender, recipient, action, location, verdict_hop, "
        "reason, raw_status")


def ts(*parts) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def events(ws):
    return ws.sql(f"SELECT {COLS} FROM stg_postfix_log ORDER BY load_id, source_row, recipient").rows(named=True)


def at(rows, line, recipient=None):
    found = [r for r in rows if r["source_row"] == line and (recipient is None or r["recipient"] == recipient)]
    assert len(found) == 1, (line, recipient, found)
    return found[0]


def assert_nothing_loaded(ws):
    assert ws.sql("SELECT count(*) AS n FROM raw_postfix_log")["n"][0] == 0
    assert ws.sql("SELECT count(*) AS n FROM load_manifest")["n"][0] == 0
    assert ws.sql("SELECT count(*) AS n FROM load_rejects")["n"][0] == 0


def claims(path: Path) -> list[str]:
    return [l.name for l in registry.claimants(path.read_bytes()[: textio.HEAD_BYTES])]


# -- real fixtures ---------------------------------------------------------------------------------

def test_real_multiple_recipients_content_filter_and_bounces(ws, real):
    path = real / "postfix" / "lightmeter_2_multiple_recipients_some_bounces_no_last_remove.log"
    (res,) = ws.ingest("c", [path], tz="UTC", year=2020)
    assert (res.format, res.hop, res.rows, res.rejects) == (FMT, "server", 11, 0)
    rows = events(ws)
    mid = "264dc34c-ad52-466c-6d41-6622dfced3b8@mydomain.com"
    # lines 13-17: first pass to amavis on 127.0.0.1:10024, queued as 1310930001DB: not final
    for line in range(13, 18):
        r = at(rows, line)
        assert (r["action"], r["location"], r["vendor_id"]) == ("received", None, "BA8F630001DA")
        assert (r["message_id"], r["sender"]) == (mid, "sender@mydomain.com")
        assert "queued as 1310930001DB" in r["reason"]
    final = {r["recipient"]: r for r in rows if r["vendor_id"] == "1310930001DB"}
    assert {k: (v["action"], v["location"], v["raw_status"]) for k, v in final.items()} == {
        "recipient42@example.com": ("bounced", "none", "status=bounced dsn=5.1.0"),
        "recipient1@dst4.example.com": ("bounced", "none", "status=bounced dsn=5.7.1"),
        "recipient1@dst3.example.com": ("bounced", "none", "status=bounced dsn=5.1.1"),
        "recipient1@dst1.example.com": ("relayed", "external", "status=sent dsn=2.0.0"),
        "recipient1@dst2.example.com": ("relayed", "external", "status=sent dsn=2.0.0"),
    }
    assert {(v["message_id"], v["sender"], v["verdict_hop"]) for v in final.values()} == {
        (mid, "sender@mydomain.com", "server")}
    # the Gmail reply carries its own clock: 1607509104 = 2020-12-09 10:18:24 UTC
    assert final["recipient1@dst1.example.com"]["event_ts"] == datetime.fromtimestamp(1607509104, UTC)
    assert final["recipient1@dst2.example.com"]["event_ts"] == ts(2020, 12, 9, 10, 18, 26)
    assert "handed over from BA8F630001DA" in final["recipient42@example.com"]["reason"]
    assert "nullMX" in final["recipient42@example.com"]["reason"]
    # the non-delivery notification C7B4530001DA (from=<>) is delivered to the sender's mailbox
    dsn = at(rows, 32)
    assert (dsn["vendor_id"], dsn["recipient"], dsn["sender"]) == ("C7B4530001DA", "sender@mydomain.com", None)
    assert (dsn["action"], dsn["location"]) == ("delivered", "inbox")
    assert dsn["message_id"] == "20201209101826.C7B4530001DA@mail.mydomain.com"
    (m,) = ws.sql("SELECT tz_assumption, window_start, window_end FROM load_manifest").rows(named=True)
    assert (m["tz_assumption"], m["window_start"], m["window_end"]) == (
        "UTC", ts(2020, 12, 9, 10, 18, 24), ts(2020, 12, 9, 10, 18, 26))


def test_real_local_delivery_through_amavis_and_dovecot(ws, real):
    (res,) = ws.ingest("c", [real / "postfix" / "lightmeter_3_local_delivery.log"], tz="UTC", year=2021)
    assert res.rows == 2
    hop, final = events(ws)
    mid = "414300fb-b063-fa96-4fc6-2d35b3168d61@example.com"
    assert (hop["source_row"], hop["vendor_id"], hop["action"]) == (19, "0B73130001FB", "received")
    assert (final["source_row"], final["vendor_id"]) == (25, "400643011B47")
    assert (final["action"], final["location"]) == ("delivered", "inbox")
    assert "folder INBOX" in final["reason"]
    for r in (hop, final):
        assert (r["message_id"], r["sender"], r["recipient"]) == (mid, "sender@example.com", "recipient@example.com")
        # amavis logged "Sun, 10 Jan 2021 16:15:30 +0000 (UTC)" for this message
        assert r["event_ts"] == ts(2021, 1, 10, 16, 15, 30)


def test_real_zone_is_applied(ws, real):
    ws.ingest("c", [real / "postfix" / "lightmeter_3_local_delivery.log"], tz="Europe/Berlin", year=2021)
    assert {r["event_ts"] for r in events(ws)} == {ts(2021, 1, 10, 15, 15, 30)}  # CET = UTC+1


def test_real_deferred_then_retried_and_corrupted_line_skipped(ws, real):
    (res,) = ws.ingest("c", [real / "postfix" / "lightmeter_6_deferred_message_retry.log"], tz="UTC", year=2020)
    assert (res.rows, res.rejects) == (6, 0)
    rows = events(ws)
    mid = "000msgid0000@example.com"
    retry = [r for r in rows if r["vendor_id"] == "A17F830001CA"]
    assert [(r["source_row"], r["event_ts"], r["action"], r["location"]) for r in retry] == [
        (20, ts(2020, 12, 7, 13, 28, 2), "deferred", None),
        (27, ts(2020, 12, 7, 13, 35, 8), "relayed", "external"),
    ]
    assert {(r["message_id"], r["sender"], r["recipient"]) for r in retry} == {
        (mid, "bounces@some.example.com", "recipient@recipient.com")}
    assert "greylisted" in retry[0]["reason"]
    # the content-filter pass 78E8330001C7 has no cleanup line in the file: its Message-ID is the
    # one of the queue id it handed the message to
    first = at(rows, 6)
    assert (first["vendor_id"], first["action"], first["message_id"]) == ("78E8330001C7", "received", mid)
    # line 17 ("ec  7 13:28:02 …", BA8BA30001C7 sent) is corrupted: skipped, not guessed
    assert not [r for r in rows if r["vendor_id"] == "BA8BA30001C7"]
    lmtp = at(rows, 23)
    assert (lmtp["vendor_id"], lmtp["recipient"], lmtp["action"], lmtp["location"]) == (
        "4E8FF30001C8", "user2@some.example.com", "delivered", "inbox")


def test_real_message_parts_without_prefix(ws, real):
    (smtp, cleanup) = ws.ingest("c", [real / "postfix" / "whyscream_POSTFIX_SMTP.log",
                                      real / "postfix" / "whyscream_POSTFIX_CLEANUP.log"])
    assert (smtp.rows, cleanup.rows) == (2, 1)
    rows = events(ws)
    assert {r["event_ts"] for r in rows} == {None}  # message parts carry no time
    hand, relayed, rejected = rows
    assert (hand["vendor_id"], hand["recipient"], hand["action"]) == ("7EE668039", "admin@example.com", "received")
    assert "queued as 153053D" in hand["reason"]  # 127.0.0.1:2525 is a local hop, not final
    # orig_to is the address the sender used; the alias target stays in the reason
    assert (relayed["vendor_id"], relayed["recipient"], relayed["action"], relayed["location"]) == (
        "0D9633D", "bestuur@example.com", "relayed", "external")
    assert "jos@example.com" in relayed["reason"]
    assert (rejected["vendor_id"], rejected["action"], rejected["location"]) == ("4104E3D", "rejected", "none")
    assert (rejected["sender"], rejected["recipient"], rejected["message_id"]) == (
        "wumt5@cchfdc.com", "voorzitter@example.com", None)  # message-id=<>
    assert rejected["raw_status"] == "milter-reject dsn=5.7.1"
    assert "Blocked by SpamAssassin" in rejected["reason"]


def test_real_qmgr_parts_alone_hold_no_delivery_record(ws, real):
    with pytest.raises(InputError) as err:
        ws.ingest("c", [real / "postfix" / "whyscream_POSTFIX_QMGR.log"])
    assert "no records found" in err.value.message
    assert_nothing_loaded(ws)


def test_real_fixtures_claimed_only_by_postfix(real):
    for path in sorted((real / "postfix").iterdir()):
        assert claims(path) == [FMT], path


def test_sniff_claims_no_other_real_fixture(real):
    for path in sorted(real.rglob("*")):
        if path.is_file() and path.parent.name != "postfix" and path.name != "PROVENANCE.md":
            assert FMT not in claims(path), path


# -- own samples -----------------------------------------------------------------------------------

def test_sample_year_wrap_and_every_mapping(ws):
    (res,) = ws.ingest("c", [DATA / "rfc3164_year_wrap.log"], tz="Europe/Berlin", year=2025)
    assert (res.rows, res.rejects) == (26, 0)
    rows = events(ws)
    sim = "bounce@sim-phish.example.net"

    reject = at(rows, 2)
    assert (reject["event_ts"], reject["action"], reject["location"]) == (ts(2025, 12, 31, 22, 58, 1), "rejected", "none")
    assert (reject["recipient"], reject["sender"], reject["vendor_id"], reject["message_id"]) == (
        "nobody@customer.example", sim, None, None)
    assert reject["raw_status"] == "reject dsn=5.7.1"
    grey = at(rows, 3)
    assert (grey["recipient"], grey["action"], grey["raw_status"]) == ("grey@customer.example", "deferred", "reject dsn=4.7.1")

    for line in (11, 12, 13):  # amavis pass
        assert (at(rows, line)["action"], at(rows, line)["vendor_id"]) == ("received", "1A2B3C4D5E")
    assert {at(rows, n)["message_id"] for n in (11, 16, 18, 20)} == {"sim-1001@sim-phish.example.net"}
    alice, bob, carol = at(rows, 16), at(rows, 18), at(rows, 20)
    assert (alice["recipient"], alice["action"], alice["location"]) == ("alice@customer.example", "delivered", "inbox")
    assert (bob["recipient"], bob["action"], bob["location"]) == ("bob@customer.example", "junked", "junk")
    assert (carol["recipient"], carol["action"], carol["location"]) == ("carol@customer.example", "delivered", "other_folder")
    assert alice["event_ts"] == ts(2025, 12, 31, 22, 59, 12)
    assert "folder Archive" in carol["reason"]

    # a December line logged after the first January line keeps its year
    late = at(rows, 24)
    assert (late["recipient"], late["event_ts"], late["action"]) == ("late@customer.example", ts(2025, 12, 31, 22, 59, 59), "rejected")
    dave, erin = at(rows, 26), at(rows, 27)
    assert dave["event_ts"] == ts(2025, 12, 31, 23, 0, 6)  # Jan  1 00:00:06 CET, year 2026 locally
    assert (dave["recipient"], dave["action"], dave["location"]) == ("dave@customer.example", "delivered", "inbox")
    assert "rewritten to dave@mx1.customer.example" in dave["reason"]
    assert (erin["action"], erin["location"], erin["message_id"]) == ("delivered", "inbox", "sim-1002@sim-phish.example.net")
    peggy = at(rows, 29)
    assert (peggy["recipient"], peggy["action"]) == ("peggy@customer.example", "received")
    assert "forwarded as 4E5F6A7B8C" in peggy["reason"]
    frank, grace, forward = at(rows, 31), at(rows, 32), at(rows, 33)
    assert (frank["action"], frank["location"]) == ("relayed", "external")
    assert (grace["action"], grace["location"], grace["raw_status"]) == ("bounced", "none", "status=bounced dsn=5.1.1")
    assert (forward["vendor_id"], forward["recipient"], forward["action"]) == (
        "4E5F6A7B8C", "peggy.private@mail.example.org", "relayed")
    assert forward["message_id"] == "sim-1002@sim-phish.example.net"

    heidi, ivan = at(rows, 40), at(rows, 41)
    assert (heidi["action"], ivan["action"]) == ("deferred", "deferred")
    assert ivan["raw_status"] == "status=SOFTBOUNCE dsn=4.2.2"
    expired = [r for r in rows if r["source_row"] == 63]
    assert [(r["recipient"], r["action"], r["location"]) for r in expired] == [
        ("heidi@branch.customer.example", "dropped", "none"), ("ivan@branch.customer.example", "dropped", "none")]
    assert {r["event_ts"] for r in expired} == {ts(2026, 1, 5, 23, 1, 5)}
    assert {r["message_id"] for r in expired} == {"sim-1003@sim-phish.example.net"}

    milter, milter_temp = at(rows, 44), at(rows, 47)
    assert (milter["recipient"], milter["action"], milter["message_id"]) == (
        "judy@customer.example", "rejected", "sim-1004@sim-phish.example.net")
    assert milter["event_ts"] == ts(2026, 1, 2, 8, 30, 1)
    assert (milter_temp["recipient"], milter_temp["action"]) == ("kim@customer.example", "deferred")
    hold, discard, header = at(rows, 50), at(rows, 53), at(rows, 56)
    assert (hold["recipient"], hold["action"], hold["location"]) == ("mallory@customer.example", "quarantined", "quarantine")
    assert (discard["recipient"], discard["action"], discard["location"]) == ("niaj@customer.example", "dropped", "none")
    assert (header["recipient"], header["action"], header["raw_status"]) == ("olivia@customer.example", "rejected", "reject dsn=5.7.1")

    # 1A2B3C4D5E is reused after `removed` for another message: linked to that one only
    reused = at(rows, 60)
    assert (reused["vendor_id"], reused["message_id"], reused["sender"]) == (
        "1A2B3C4D5E", "report-77@customer.example", "reports@customer.example")
    assert (reused["action"], reused["location"]) == ("relayed", "external")


def test_sample_rfc3339_offsets(ws):
    (res,) = ws.ingest("c", [DATA / "rfc3339.log"])  # zone in every stamp: no --tz, no --year
    assert res.rows == 3
    pipe, relay, reject = events(ws)
    assert pipe["event_ts"] == ts(2026, 3, 2, 8, 15, 4, 640058)
    assert (pipe["recipient"], pipe["action"], pipe["location"]) == ("quinn@customer.example", "delivered", "inbox")
    assert pipe["sender"] == "bounce@sim-phish.example.net"  # lower-cased
    assert relay["event_ts"] == ts(2026, 3, 2, 8, 15, 5, 2311)
    assert (relay["action"], relay["location"], relay["message_id"]) == ("relayed", "external", "sim-2001@sim-phish.example.net")
    assert reject["event_ts"] == ts(2026, 3, 2, 8, 16, 0)
    assert (reject["recipient"], reject["action"], reject["sender"]) == ("sybil@customer.example", "rejected", "bounce@sim-phish.example.net")
    assert "zen.spamhaus.org" in reject["reason"]
    assert ws.sql("SELECT tz_assumption FROM load_manifest")["tz_assumption"][0] == "UTC (stated by the format)"


def test_samples_claimed_only_by_postfix():
    for name in ("rfc3164_year_wrap.log", "rfc3339.log"):
        assert claims(DATA / name) == [FMT]


def test_events_reach_the_mail_event_union(ws):
    ws.ingest("c", [DATA / "rfc3339.log"])
    got = ws.sql("SELECT recipient, action FROM int_mail_events WHERE source_format = ? ORDER BY source_row",
                 [FMT]).rows()
    assert got == [("quinn@customer.example", "delivered"), ("rupert@customer.example", "relayed"),
                   ("sybil@customer.example", "rejected")]


# -- bad input -------------------------------------------------------------------------------------

def test_syslog_without_year_is_refused(ws):
    with pytest.raises(InputError) as err:
        ws.ingest("c", [DATA / "rfc3164_year_wrap.log"], tz="Europe/Berlin")
    assert err.value.line == 1 and "--year" in err.value.message and "--tz" not in err.value.message
    assert_nothing_loaded(ws)


def test_syslog_without_zone_is_refused(ws):
    with pytest.raises(InputError) as err:
        ws.ingest("c", [DATA / "rfc3164_year_wrap.log"], year=2025)
    assert err.value.line == 1 and "--tz" in err.value.message and "--year" not in err.value.message
    assert_nothing_loaded(ws)


def test_syslog_without_year_and_zone_names_both(ws, real):
    with pytest.raises(InputError) as err:
        ws.ingest("c", [real / "postfix" / "lightmeter_3_local_delivery.log"])
    assert err.value.line == 1 and "--tz" in err.value.message and "--year" in err.value.message
    assert_nothing_loaded(ws)


def test_rfc3339_without_offset_needs_tz(ws, tmp_path):
    path = tmp_path / "naive.log"
    path.write_text(
        "2026-03-02T09:15:04.120034 mx2 postfix/cleanup[2002]: 0C1D2E3F4A: message-id=<a@sim.example>\n"
        "2026-03-02T09:15:04.640058 mx2 postfix/smtp[2004]: 0C1D2E3F4A: to=<x@customer.example>, relay=mx.customer.example"
        "[192.0.2.40]:25, delay=0.9, delays=0.08/0.01/0.3/0.5, dsn=2.0.0, status=sent (250 2.0.0 Ok)\n")
    with pytest.raises(InputError) as err:
        ws.ingest("c", [path])
    assert err.value.line == 1 and "--tz" in err.value.message
    assert_nothing_loaded(ws)
    ws.ingest("c", [path], tz="Europe/Berlin")
    (row,) = events(ws)
    assert (row["event_ts"], row["message_id"]) == (ts(2026, 3, 2, 8, 15, 4, 640058), "a@sim.example")


def test_truncated_delivery_line_fails_naming_line(ws, tmp_path):
    lines = (DATA / "rfc3339.log").read_text().splitlines()
    lines[4] = lines[4][: lines[4].index(" status=")]
    path = tmp_path / "cut.log"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as err:
        ws.ingest("c", [path])
    assert err.value.line == 5 and "status=" in err.value.message
    assert_nothing_loaded(ws)


def test_impossible_date_fails_naming_line(ws, tmp_path):
    path = tmp_path / "feb30.log"
    path.write_text(
        "Feb 28 10:00:00 mx postfix/cleanup[1]: 1A2B3C4D5E: message-id=<a@sim.example>\n"
        "Feb 30 10:00:01 mx postfix/smtp[2]: 1A2B3C4D5E: to=<x@customer.example>, relay=mx.customer.example"
        "[192.0.2.40]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 Ok)\n")
    with pytest.raises(InputError) as err:
        ws.ingest("c", [path], tz="UTC", year=2026)
    assert err.value.line == 2 and "invalid" in err.value.message
    assert_nothing_loaded(ws)


def test_new_queue_inherits_message_id_from_content_filter_pass(ws, tmp_path):
    # the file starts after the new queue id's cleanup line: its Message-ID comes from the first pass
    path = tmp_path / "handoff.log"
    path.write_text(
        "Mar  2 09:00:00 mx postfix/cleanup[1]: 1A2B3C4D5E: message-id=<sim-9@sim.example>\n"
        "Mar  2 09:00:00 mx postfix/qmgr[2]: 1A2B3C4D5E: from=<bounce@sim.example>, size=10, nrcpt=1 (queue active)\n"
        "Mar  2 09:00:01 mx postfix/smtp[3]: 1A2B3C4D5E: to=<x@customer.example>, relay=127.0.0.1[127.0.0.1]:10024, "
        "delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 2B3C4D5E6F)\n"
        "Mar  2 09:00:02 mx postfix/lmtp[4]: 2B3C4D5E6F: to=<x@customer.example>, relay=mail[/var/run/dovecot/lmtp], "
        "delay=0.1, delays=0/0/0/0.1, dsn=2.0.0, status=sent (250 2.0.0 <x@customer.example> Saved)\n")
    ws.ingest("c", [path], tz="UTC", year=2026)
    hop, final = events(ws)
    assert (final["vendor_id"], final["action"], final["message_id"], final["sender"]) == (
        "2B3C4D5E6F", "delivered", "sim-9@sim.example", "bounce@sim.example")
    assert final["event_ts"] == ts(2026, 3, 2, 9, 0, 2)


def test_text_without_postfix_records_is_refused(ws, tmp_path):
    path = tmp_path / "other.log"
    path.write_text("Mar  2 09:00:00 mx sshd[1]: Accepted publickey for root from 192.0.2.1\n")
    assert claims(path) == []
    with pytest.raises(InputError) as err:
        ws.ingest("c", [f"{path}:{FMT}"], tz="UTC", year=2026)
    assert "no records found" in err.value.message
    assert_nothing_loaded(ws)
