"""A customer's own link scanners: interactions from them are judged automated, for that customer only,
at once and reversibly; the IPv4 range macros."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

from phishtrace.cli import main
from phishtrace.errors import PhishtraceError

# GoPhish results and events (the v0.7+ shapes): two recipients sent at 09:00, clicks an hour later from
# a vendor's sandbox (198.51.100.23) and from a person (192.0.2.10)
RESULTS = ("id,status,ip,latitude,longitude,send_date,reported,modified_date,email,first_name,last_name,position\n"
           "rid0001,Clicked Link,198.51.100.23,0,0,2025-06-17T09:00:00Z,false,2025-06-17T10:00:00Z,"
           "sandboxed@corp.example,S,B,\n"
           "rid0002,Clicked Link,192.0.2.10,0,0,2025-06-17T09:00:00Z,false,2025-06-17T10:05:00Z,"
           "person@corp.example,P,Q,\n")
EVENTS = "campaign_id,email,time,message,details\n" + "".join(
    f'1,{email},2025-06-17T09:00:00Z,Email Sent,\n'
    f'1,{email},{ts},Clicked Link,"{{""payload"":{{""rid"":[""{rid}""]}},""browser"":{{""address"":""{ip}"",'
    f'""user-agent"":""{ua}""}}}}"\n'
    for email, ts, rid, ip, ua in (
        ("sandboxed@corp.example", "2025-06-17T10:00:00Z", "rid0001", "198.51.100.23", "Mozilla/5.0 SandboxBot/2.1"),
        ("person@corp.example", "2025-06-17T10:05:00Z", "rid0002", "192.0.2.10", "Mozilla/5.0 (Windows NT 10.0)")))


def _load(ws, tmp_path, customer):
    folder = tmp_path / customer
    folder.mkdir()
    (folder / "results.csv").write_text(RESULTS, encoding="utf-8")
    (folder / "events.csv").write_text(EVENTS, encoding="utf-8")
    ws.ingest(customer, [str(folder / "results.csv"), str(folder / "events.csv")], options={"campaign": "Q3"})


def _judged(ws, customer):
    df = ws.interactions(customer).filter(ws.interactions(customer)["kind"] == "clicked")
    return {r["recipient"]: r["automated_reason"] for r in df.iter_rows(named=True)}


def test_a_customers_scanner_rejudges_its_interactions_only(ws, tmp_path):
    _load(ws, tmp_path, "acme")
    _load(ws, tmp_path, "globex")
    both = {"sandboxed@corp.example": None, "person@corp.example": None}
    assert _judged(ws, "acme") == both and _judged(ws, "globex") == both

    assert ws.add_scanner("acme", "ip_cidr", "198.51.100.99/24", "Vendor sandbox") == "198.51.100.0/24"
    assert _judged(ws, "acme") == {"sandboxed@corp.example": "scanner_ip: Vendor sandbox", "person@corp.example": None}
    assert _judged(ws, "globex") == both  # another customer with the same address is not affected
    outcomes = {r["recipient"]: r["outcome"] for r in ws.outcomes("acme").iter_rows(named=True)}
    assert outcomes["sandboxed@corp.example"] != "interacted" and outcomes["person@corp.example"] == "interacted"

    ws.remove_scanner("acme", "198.51.100.0/24")
    assert _judged(ws, "acme") == both
    ws.add_scanner("globex", "user_agent", "sandboxbot", "")
    assert _judged(ws, "globex") == {"sandboxed@corp.example": "scanner_ua: sandboxbot", "person@corp.example": None}
    ws.add_scanner("globex", "ip_prefix", "192.0.2.", "Office proxy")
    assert _judged(ws, "globex")["person@corp.example"] == "scanner_ip: Office proxy"
    scopes = ws.scanners("globex")["scope"].to_list()
    assert scopes.count("globex") == 2 and "acme" not in scopes and "shipped" in scopes


def test_scanner_patterns_are_checked(ws, tmp_path):
    with pytest.raises(PhishtraceError, match="no data loaded for customer 'acme'"):
        ws.add_scanner("acme", "ip_prefix", "10.")  # a typo in the customer name is caught
    _load(ws, tmp_path, "acme")
    with pytest.raises(PhishtraceError, match="IPv6 ranges are not supported"):
        ws.add_scanner("acme", "ip_cidr", "2001:db8::/32")
    with pytest.raises(PhishtraceError, match="not an IP range"):
        ws.add_scanner("acme", "ip_cidr", "198.51.100.0/33")
    with pytest.raises(PhishtraceError, match="would match every interaction"):
        ws.add_scanner("acme", "user_agent", "  ")
    with pytest.raises(PhishtraceError, match="has no scanner"):
        ws.remove_scanner("acme", "10.0.0.0/8")


@pytest.mark.parametrize("ip, cidr, inside", [
    ("198.51.100.0", "198.51.100.0/24", True), ("198.51.100.255", "198.51.100.0/24", True),
    ("198.51.101.0", "198.51.100.0/24", False), ("10.1.2.3", "0.0.0.0/0", True), ("10.1.2.3", "10.1.2.3/32", True),
    ("10.1.2.4", "10.1.2.3/32", False), ("172.31.255.255", "172.16.0.0/12", True), ("172.32.0.0", "172.16.0.0/12", False),
    ("::1", "10.0.0.0/8", None), ("10.0.0.256", "10.0.0.0/8", None), ("010.0.0.1", "10.0.0.0/8", None)])
def test_ipv4_range_macro(ws, ip, cidr, inside):
    import ipaddress

    got = ws.sql("SELECT pt_ipv4_in_cidr(?, ?) AS v", [ip, cidr])["v"][0]
    assert got is inside
    if inside is not None:  # the same answer as Python's ipaddress
        assert inside == (ipaddress.ip_address(ip) in ipaddress.ip_network(cidr))


def test_scanners_commands(_template_db, tmp_path):
    from phishtrace import Workspace

    db = str(tmp_path / "cli.duckdb")
    shutil.copyfile(_template_db, db)
    with Workspace(db) as ws:
        _load(ws, tmp_path, "acme")
    r = CliRunner().invoke(main, ["scanners", "add", "--db", db, "--customer", "acme", "--cidr", "203.0.113.7/24",
                                  "--label", "Sandbox"])
    assert r.exit_code == 0 and "ip_cidr 203.0.113.0/24" in r.output
    r = CliRunner().invoke(main, ["scanners", "list", "--db", db, "--customer", "acme", "--format", "csv"])
    assert "acme,ip_cidr,203.0.113.0/24,Sandbox" in r.output
    r = CliRunner().invoke(main, ["scanners", "add", "--db", db, "--customer", "acme"])
    assert r.exit_code == 2 and "exactly one of" in r.output
    r = CliRunner().invoke(main, ["scanners", "remove", "--db", db, "--customer", "acme", "203.0.113.0/24"])
    assert r.exit_code == 0 and "removed 1" in r.output
    r = CliRunner().invoke(main, ["scanners", "remove", "--db", db, "--customer", "acme", "203.0.113.0/24"])
    assert r.exit_code == 2 and r.output.startswith("error: customer 'acme' has no scanner")
