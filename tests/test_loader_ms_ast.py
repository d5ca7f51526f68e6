"""Attack simulation training export loader (formats.md §1.4): the samples in tests/data/ms_ast (header
unconfirmed, see its README), the accepted variants, and bad input."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from phishtrace import InputError, registry, textio

DATA = Path(__file__).parent / "data" / "ms_ast"
MAIN = DATA / "AST Payroll simulation.csv"
VARIANT = DATA / "ast_upn_variant.csv"
FMT = "ms_ast_csv"
UTC = timezone.utc


def iso(text):
    """'2024-05-14T09:00:12Z', read independently of the loader."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def us(text, tz=UTC):
    """'5/14/2024 2:05:09 PM' in zone tz, as UTC."""
    return datetime.strptime(text, "%m/%d/%Y %I:%M:%S %p").replace(tzinfo=tz).astimezone(UTC)


def sample_rows(path):
    with path.open(newline="", encoding="utf-8") as fh:
        return {r.get("UserMail", r.get("userprincipalname")).lower(): r for r in csv.DictReader(fh)}


def messages(ws):
    return {r["recipient"]: r for r in ws.sql("SELECT * FROM stg_ms_ast_csv").rows(named=True)}


def interactions(ws):
    return ws.sql("SELECT recipient, kind, event_ts, client_ip, user_agent, detail FROM stg_ms_ast_csv__interactions "
                  "ORDER BY recipient, event_ts, kind").rows(named=True)


def assert_nothing_loaded(ws):
    assert ws.sql(f"SELECT count(*) AS n FROM raw_{FMT}")["n"][0] == 0
    assert ws.sql("SELECT count(*) AS n FROM load_manifest")["n"][0] == 0


def test_sniff_claims_each_file_once(real):
    mine = [MAIN, VARIANT]
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


EXPECTED_STATUS = {
    "ann@contoso.com": "delivered",
    "ben@contoso.com": "opened",
    "cat@contoso.com": "replied",
    "dan@contoso.com": "clicked",
    "eve@contoso.com": "entered_data",
    "fay@contoso.com": "clicked",
    "gus@contoso.com": "bounced",
    "hal@contoso.com": "opened",
    "ivy@contoso.com": "clicked",
    "jon@contoso.com": "clicked",
    "kim@contoso.com": "delivered",
    "lee@contoso.com": "sent",
}


def test_every_status_mapping(ws):
    src = sample_rows(MAIN)
    [res] = ws.ingest("acme", [MAIN])
    assert (res.format, res.hop, res.rows, res.rejects) == (FMT, "platform", 12, 0)
    msgs = messages(ws)
    assert {k: v["status"] for k, v in msgs.items()} == EXPECTED_STATUS
    for email, m in msgs.items():
        r = src[email]
        assert (m["campaign"], m["run"]) == ("AST Payroll simulation", "AST Payroll simulation")
        delivered, failed = r["SuccessfullyDeliveredEmail_TimeStamp"], r["FailedToDeliverEmail_TimeStamp"]
        assert m["delivered_at"] == (iso(delivered) if delivered else None)
        assert m["bounced_at"] == (iso(failed) if failed else None)
        assert m["sent_at"] is None and m["scheduled_at"] is None
        assert m["source_row"] == list(src).index(email) + 2
        assert m["run_start"] == datetime(2024, 5, 14, 9, 0, 12, tzinfo=UTC)
    gus = msgs["gus@contoso.com"]
    assert gus["bounced_at"] == datetime(2024, 5, 14, 9, 0, 18, tzinfo=UTC)
    assert gus["bounce_reason"] == "delivery failed (FailedToDeliverEmail_TimeStamp)"
    assert gus["platform_status"] == "FailedToDeliverEmail"
    assert msgs["eve@contoso.com"]["platform_status"] == (
        "SuccessfullyDeliveredEmail,MessageRead,EmailLinkClicked,CredSupplied")
    assert msgs["hal@contoso.com"]["platform_status"] == (
        "SuccessfullyDeliveredEmail,MessageRead,MessageDeleted,PhishingReported")
    assert msgs["lee@contoso.com"]["platform_status"] is None
    raw = ws.sql(f"SELECT address_column, user_name, compromised, last_activity, message_forwarded_ts, "
                 f"message_deleted_ts, record FROM raw_{FMT} WHERE user_address = 'kim@contoso.com' "
                 f"OR user_address = 'eve@contoso.com' ORDER BY user_address").rows(named=True)
    eve, kim = raw
    assert (eve["address_column"], eve["user_name"], eve["compromised"], eve["last_activity"]) == (
        "UserMail", "Eve Evans", "Yes", "Compromised")
    assert kim["message_forwarded_ts"] == iso(src["kim@contoso.com"]["MessageForwarded_TimeStamp"])
    assert json.loads(kim["record"])["Office"] == "Building 4, Floor 2"
    assert json.loads(kim["record"]) == src["kim@contoso.com"]


def test_every_interaction_mapping(ws):
    src = sample_rows(MAIN)
    ws.ingest("acme", [MAIN])
    got = [(i["recipient"], i["kind"], i["event_ts"], i["client_ip"], i["user_agent"], i["detail"])
           for i in interactions(ws)]
    assert got == [
        ("ben@contoso.com", "opened", iso("2024-05-14T09:20:00Z"), None, None, "MessageRead"),
        ("cat@contoso.com", "opened", iso("2024-05-14T09:30:00Z"), None, None, "MessageRead"),
        ("cat@contoso.com", "replied", iso("2024-05-14T09:31:10Z"), None, None, "MessageReplied"),
        ("dan@contoso.com", "clicked", iso("2024-05-14T09:00:21Z"), "40.94.88.10", "Chrome (Windows)",
         "EmailLinkClicked; ClickSource=PhishingURL"),
        ("eve@contoso.com", "opened", iso("2024-05-14T10:01:00Z"), None, None, "MessageRead"),
        ("eve@contoso.com", "clicked", iso("2024-05-14T10:02:05Z"), "198.51.100.23", "Edge (Windows)",
         "EmailLinkClicked; ClickSource=PhishingURL"),
        ("eve@contoso.com", "entered_data", iso("2024-05-14T10:02:40Z"), "198.51.100.23", "Edge (Windows)",
         "CredSupplied"),
        ("fay@contoso.com", "clicked", iso("2024-05-14T11:15:00Z"), "203.0.113.50", "Safari (iPhone)",
         "EmailLinkClicked; ClickSource=QRCode"),
        ("hal@contoso.com", "opened", iso("2024-05-14T09:45:00Z"), None, None, "MessageRead"),
        ("hal@contoso.com", "reported", iso("2024-05-14T09:46:00Z"), None, None, "Phishing Reported On"),
        ("ivy@contoso.com", "clicked", iso("2024-05-14T12:00:00Z"), "192.0.2.31", "Edge (Windows)",
         "AttachmentOpened"),
        ("jon@contoso.com", "clicked", iso("2024-05-14T12:30:00Z"), "192.0.2.32", "Firefox (Linux)",
         "AttachmentLinkClicked"),
    ]
    assert src["dan@contoso.com"]["EmailLinkClicked_IP"] == "40.94.88.10"
    # into the marts: dan's click 6 s after the platform's delivery time is automated
    inter = {(i["recipient"], i["kind"]): i for i in ws.interactions("acme").rows(named=True)}
    dan = inter[("dan@contoso.com", "clicked")]
    assert (dan["automated"], dan["automated_reason"], dan["delivery_reference"], dan["seconds_after_delivery"]) == (
        True, "within_seconds", "platform_delivered", 6.0)
    out = {r["recipient"]: r for r in ws.outcomes("acme").rows(named=True)}
    assert (out["gus@contoso.com"]["outcome"], out["gus@contoso.com"]["stuck_at"]) == ("bounced", "platform")
    assert out["dan@contoso.com"]["outcome"] == "unverified"


def test_human_interaction_without_mail_logs(ws):
    ws.ingest("acme", [MAIN])
    inter = {(i["recipient"], i["kind"]): i for i in ws.interactions("acme").rows(named=True)}
    assert inter[("eve@contoso.com", "entered_data")]["automated"] is False
    out = {r["recipient"]: r for r in ws.outcomes("acme").rows(named=True)}
    assert out["eve@contoso.com"]["outcome"] == "interacted"  # docs/outcomes.md §3 rule 11


def test_variant_headers_simulation_name_and_en_us_times(ws):
    ws.ingest("acme", [VARIANT])
    msgs = messages(ws)
    assert {k: (v["campaign"], v["run"], v["status"]) for k, v in msgs.items()} == {
        "nia.north@contoso.com": ("Q2 Invoice", "Q2 Invoice", "entered_data"),
        "oli@contoso.com": ("Q2 Invoice", "Q2 Invoice", "bounced"),
        "pam@contoso.com": ("Q2 Payroll", "Q2 Payroll", "delivered"),
        "quin@contoso.com": ("ast_upn_variant", "ast_upn_variant", "delivered"),
    }
    assert msgs["nia.north@contoso.com"]["delivered_at"] == us("5/14/2024 2:05:09 PM")
    assert msgs["oli@contoso.com"]["bounced_at"] == us("5/14/2024 2:05:10 PM")
    assert msgs["oli@contoso.com"]["bounce_reason"] == "delivery failed (JustSimulationMessageFailed_TimeStamp)"
    assert msgs["nia.north@contoso.com"]["run_start"] == us("5/14/2024 2:05:09 PM")
    got = [(i["recipient"], i["kind"], i["event_ts"], i["client_ip"], i["user_agent"]) for i in interactions(ws)]
    assert got == [
        ("nia.north@contoso.com", "clicked", us("5/14/2024 3:10:00 PM"), "198.51.100.40", "Chrome"),
        ("nia.north@contoso.com", "entered_data", us("5/14/2024 3:11:30 PM"), None, None),
        ("pam@contoso.com", "reported", us("5/14/2024 2:30:00 PM"), None, None),
    ]
    cols = ws.sql(f"SELECT DISTINCT address_column FROM raw_{FMT}").rows()
    assert cols == [("userprincipalname",)]


def test_times_without_zone_follow_tz(ws):
    ws.ingest("acme", [VARIANT], tz="America/New_York")
    m = messages(ws)["pam@contoso.com"]
    assert m["delivered_at"] == us("5/14/2024 2:06:00 PM", ZoneInfo("America/New_York"))
    assert m["delivered_at"] == datetime(2024, 5, 14, 18, 6, tzinfo=UTC)
    assert ws.manifest("acme")["tz_assumption"][0] == "America/New_York"


def test_campaign_option(ws):
    ws.ingest("acme", [MAIN, VARIANT], options={"campaign": "Payroll Q2"})
    rows = ws.sql("SELECT DISTINCT campaign FROM stg_ms_ast_csv ORDER BY campaign")["campaign"].to_list()
    # the option names files without SimulationName and rows whose SimulationName is empty
    assert rows == ["Payroll Q2", "Q2 Invoice", "Q2 Payroll"]
    assert messages(ws)["quin@contoso.com"]["campaign"] == "Payroll Q2"


def test_utf16_export(ws, tmp_path):
    p = tmp_path / "AST Payroll simulation.csv"
    p.write_bytes(MAIN.read_text(encoding="utf-8").encode("utf-16"))
    [res] = ws.ingest("acme", [p])
    assert res.format == FMT
    assert {k: v["status"] for k, v in messages(ws).items()} == EXPECTED_STATUS


# -- bad input ------------------------------------------------------------------------------------

HEADER = ("UserName,UserMail,SuccessfullyDeliveredEmail_TimeStamp,FailedToDeliverEmail_TimeStamp,"
          "EmailLinkClicked_TimeStamp")
ROW = "Ann Archer,ann@contoso.com,2024-05-14T09:00:12Z,,"


@pytest.mark.parametrize("text, line, fragment", [
    # wrong headers: no address column, no delivery column, another format's header
    ("UserName,SuccessfullyDeliveredEmail_TimeStamp\r\nAnn,2024-05-14T09:00:12Z", 1, "a user address column"),
    ("UserName,UserMail,EmailLinkClicked_TimeStamp\r\nAnn,ann@contoso.com,2024-05-14T09:00:12Z", 1,
     "a delivery time column"),
    ("id,status,ip,latitude,longitude,send_date,reported,modified_date,email,first_name,last_name,position\r\n"
     "a,Email Sent,,0,0,2018-10-08T15:56:29Z,false,2018-10-08T15:56:29Z,u@example.com,U,V,", 1,
     "a user address column"),
    # truncated row, bad timestamps, day-first date, no address
    (f"{HEADER}\r\n{ROW}\r\nBen Baker,ben@contoso.com,2024-05-14T09:00:13Z", 3, "expected 5 fields"),
    (f"{HEADER}\r\n{ROW}\r\nBen,ben@contoso.com,yesterday,,", 3, "SuccessfullyDeliveredEmail_TimeStamp"),
    (f"{HEADER}\r\n{ROW}\r\nBen,ben@contoso.com,14/5/2024 9:00:12 AM,,", 3, "M/d/yyyy"),
    (f"{HEADER}\r\n{ROW}\r\nBen,ben@contoso.com,2024-05-14T09:00:13Z,,2024-13-14T10:00:00Z", 3,
     "EmailLinkClicked_TimeStamp"),
    (f"{HEADER}\r\n{ROW}\r\nBen,Ben Baker,2024-05-14T09:00:13Z,,", 3, "expected the user's e-mail address"),
    # header only; garbage
    (f"{HEADER}\r\n", None, "no records found"),
    ("\x1b[0m lorem ipsum; dolor\r\nsit amet\r\n", 1, "a user address column"),
])
def test_bad_csv_is_refused_whole(ws, tmp_path, text, line, fragment):
    p = tmp_path / "ast export.csv"
    p.write_bytes(text.encode())
    with pytest.raises(InputError) as err:
        ws.ingest("acme", [f"{p}:{FMT}"])
    assert err.value.line == line
    assert fragment in str(err.value)
    assert str(p) in str(err.value)
    assert_nothing_loaded(ws)
