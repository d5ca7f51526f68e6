"""Generated customers behind Mimecast, Cisco ESA and Proofpoint TAP, and on GoPhish, KnowBe4 and attack simulation
training (phishtrace/samples/profiles_filters.py): the views reproduce truth.csv exactly, every outcome each
customer's files can express occurs, and the cases only these sources exercise come out as the files say (GoPhish
rid token matching through TAP, scanner clicks told apart by client address / user agent, clicks only a filter
saw, a Cisco quarantine release under a new MID, syslog MIDs keyed by appliance)."""

from __future__ import annotations

import csv
import json
import re
import shutil
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from phishtrace import Workspace, registry, textio
from phishtrace.samples import generate
from phishtrace.samples.generate import plan_customer
from phishtrace.samples.profiles import profile_for
from phishtrace.samples.writers.cisco_esa_text import TZ

ROOT = Path(__file__).resolve().parents[1]
UTC = timezone.utc
CUSTOMERS = ("initech", "umbrella", "hooli", "soylent", "wayne")
PER_CUSTOMER = 120
YEAR = 2025  # generate.plan_customer starts every run in June 2025 (the syslog form carries no year)
OUTCOMES = {  # docs/outcomes.md §3
    "scheduling_stalled", "held_bounced_learner", "bounced", "filter_quarantined", "filter_deferred",
    "server_quarantined", "server_junked", "server_failed", "removed_after_delivery", "moved_by_rule",
    "interacted", "delivered", "unverified",
}
# what the platforms cannot express (profiles_filters): no Scheduling state on GoPhish / KnowBe4 / attack
# simulation training; no not-sent state on attack simulation training; no filter in front of wayne
CANNOT = {
    "hooli": {"scheduling_stalled"},
    "soylent": {"scheduling_stalled"},
    "wayne": {"scheduling_stalled", "held_bounced_learner", "filter_quarantined", "filter_deferred"},
}


# -- independent readers of the generated files ----------------------------------------------------------
def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def iso(text: str) -> datetime:
    head, _, frac = text.rstrip("Z").partition(".")
    return datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(microsecond=int((frac + "000000")[:6]), tzinfo=UTC)


def scanner_list() -> tuple[list[str], list[str]]:
    text = (ROOT / "phishtrace" / "data" / "scanners.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))
    return ([r["pattern"] for r in rows if r["kind"] == "ip_prefix"],
            [r["pattern"].lower() for r in rows if r["kind"] == "user_agent"])


def listed(ip: str | None, ua: str | None) -> tuple[bool, bool]:
    prefixes, agents = scanner_list()
    return (bool(ip) and any(ip.startswith(p) for p in prefixes),
            bool(ua) and any(a in ua.lower() for a in agents))


def truth_rows(out: Path) -> dict[tuple[str, str, str, str], tuple[str, str]]:
    return {(r["customer"], r["campaign"], r["run"], r["recipient"]): (r["outcome"], r["stuck_at"])
            for r in read_csv(out / "truth.csv")}


def gophish_files(folder: Path, kind: str) -> dict[str, list[dict[str, str]]]:
    """campaign (file name stem without ' - Results' / ' - Events') -> rows."""
    suffix = f" - {kind}.csv"
    return {p.name[: -len(suffix)]: read_csv(p) for p in sorted(folder.glob(f"*{suffix}"))}


def tap_records(folder: Path) -> list[tuple[str, dict]]:
    out = []
    for line in (folder / "proofpoint_tap_siem.json").read_text(encoding="utf-8").splitlines():
        env = json.loads(line)
        out += [(name, rec) for name in ("messagesDelivered", "messagesBlocked", "clicksPermitted", "clicksBlocked")
                for rec in env[name]]
    return out


# a Cisco ESA 'To:' line: (month, day, time, year, MID, address) / (month, day, time, host, MID, address)
TO_FILE = r"\w{3} (\w{3}) +(\d+) (\d\d:\d\d:\d\d) (\d{4}) Info: MID (\d+) ICID \d+ RID 0 To: <([^>]+)>"
TO_SYSLOG = r"<\d+>(\w{3}) +(\d+) (\d\d:\d\d:\d\d) (\S+) mail_logs: Info: MID (\d+) ICID \d+ RID 0 To: <([^>]+)>"


def rid_in(url: str) -> str:
    m = re.search(r"[?&]rid=([A-Za-z0-9]+)", url)
    assert m, url
    return m.group(1)


# -- generation and loading ---------------------------------------------------------------------------------
def ingest_customer(ws: Workspace, folder: Path) -> None:
    """Cisco ESA logs carry appliance local time: they are loaded with the appliance's zone (and year)."""
    files = sorted(folder.iterdir())
    cisco = [p for p in files if p.name.startswith(("mail_logs.@", "bounces.@", "esa_"))]
    ws.ingest(folder.name, [str(p) for p in files if p not in cisco])
    if cisco:
        form = "syslog" if cisco[0].name.startswith("esa_") else "file"
        ws.ingest(folder.name, [str(p) for p in cisco], tz=TZ[form], year=YEAR if form == "syslog" else None)


@pytest.fixture(scope="module", params=[1, 2], ids=["seed1", "seed2"])
def loaded(request, _template_db, tmp_path_factory):
    base = tmp_path_factory.mktemp(f"filters{request.param}")
    out = base / "gen"
    generate(out, seed=request.param, recipients=PER_CUSTOMER * len(CUSTOMERS), customers=list(CUSTOMERS))
    db = base / "ws.duckdb"
    shutil.copyfile(_template_db, db)
    ws = Workspace(str(db))
    for customer in CUSTOMERS:
        ingest_customer(ws, out / customer)
    yield ws, out
    ws.close()


# -- the truth ----------------------------------------------------------------------------------------------
def test_views_reproduce_the_truth(loaded):
    ws, out = loaded
    truth = truth_rows(out)
    got = {(r["customer"], r["campaign"], r["run"], r["recipient"]): (r["outcome"], r["stuck_at"])
           for r in ws.outcomes().rows(named=True)}
    assert {k[0] for k in truth} == set(CUSTOMERS)
    problems = [f"{k}: truth {truth.get(k)} computed {got.get(k)}" for k in sorted(set(truth) | set(got))
                if truth.get(k) != got.get(k)]
    assert not problems, f"{len(problems)} of {len(truth)} differ:\n" + "\n".join(problems[:40])


def test_every_outcome_each_customer_can_express_occurs(loaded):
    _, out = loaded
    counts: dict[str, Counter] = defaultdict(Counter)
    stuck: dict[str, set] = defaultdict(set)
    for (customer, *_), (outcome, stuck_at) in truth_rows(out).items():
        counts[customer][outcome] += 1
        if outcome == "bounced":
            stuck[customer].add(stuck_at)
    for customer in CUSTOMERS:
        expressible = OUTCOMES - CANNOT.get(customer, set())
        assert set(counts[customer]) == expressible, (customer, counts[customer])
        assert min(counts[customer].values()) >= 2, (customer, counts[customer])
    for customer in ("initech", "umbrella", "hooli", "soylent"):
        assert stuck[customer] == {"platform", "filter", "server"}, customer
    assert stuck["wayne"] == {"platform"}


def test_planted_cases_are_what_the_files_say():
    """The rules applied to what each customer's files say give the outcome each planted case was built for
    (after the platform's own limits: writers/_platforms.py)."""
    for name in CUSTOMERS:
        for seed in range(1, 7):
            for n in (30, 151):
                cust = plan_customer(profile_for(name, 0), seed, n)
                wrong = [(p.run, p.scenario, p.expected, t) for p, t in zip(cust.plans, cust.truth) if p.expected != t]
                assert not wrong, (name, seed, n, wrong[:3])


# -- GoPhish behind Proofpoint on Demand + TAP (hooli) -------------------------------------------------------
def test_tap_records_match_their_gophish_message_by_rid(loaded):
    ws, out = loaded
    folder = out / "hooli"
    owner = {r["id"]: (campaign, r["email"].lower())
             for campaign, rows in gophish_files(folder, "Results").items() for r in rows}
    records = tap_records(folder)
    expected = Counter()
    for name, rec in records:
        url = rec["url"] if name.startswith("clicks") else rec["threatsInfoMap"][0]["threat"]
        campaign, email = owner[rid_in(url)]
        recipient = rec["recipient"] if name.startswith("clicks") else rec["recipient"][0]
        assert recipient == email
        expected[(campaign, email, rid_in(url))] += 1
    got = ws.sql("SELECT m.campaign, m.recipient, e.token, e.match_method FROM int_matched_events e "
                 "JOIN int_messages m USING (message_key) WHERE e.customer = 'hooli' "
                 "AND e.source_format = 'proofpoint_tap_json'").rows()
    assert {r[3] for r in got} == {"token"}
    assert Counter((c, r, t) for c, r, t, _ in got) == expected
    # the other logs of those messages carry no rid: they join by recipient and time window
    methods = ws.sql("SELECT DISTINCT source_format, match_method FROM int_matched_events WHERE customer = 'hooli' "
                     "AND source_format IN ('m365_message_trace', 'defender_email_events')").rows()
    assert {m for _, m in methods} == {"recipient_window"}


def test_tap_threat_classification_is_called_out(loaded):
    ws, out = loaded
    truth = truth_rows(out)
    owner = {r["id"]: campaign for campaign, rows in gophish_files(out / "hooli", "Results").items() for r in rows}
    staged = defaultdict(set)
    for rec, action, reason in ws.sql("SELECT recipient, action, reason FROM int_mail_events WHERE customer = 'hooli' "
                                      "AND source_format = 'proofpoint_tap_json'").rows():
        staged[rec].add((action, reason))
    blocked = 0
    for name, rec in tap_records(out / "hooli"):
        if not name.startswith("messages"):
            continue
        recipient = rec["recipient"][0]
        assert any("tap_threat:phish" in reason for _, reason in staged[recipient]), recipient
        if name == "messagesBlocked":
            blocked += 1
            campaign = owner[rid_in(rec["threatsInfoMap"][0]["threat"])]
            assert truth[("hooli", campaign, campaign, recipient)] == ("filter_quarantined", "filter")
    assert blocked >= 2


def test_scanner_clicks_told_apart_by_address_or_user_agent(loaded):
    """GoPhish Clicked Link events minutes after sending from a listed scanner address or user agent: automated
    (TAP's record of the same click too), so the platform's 'Clicked Link' ends as delivered."""
    ws, out = loaded
    truth = truth_rows(out)
    folder = out / "hooli"
    status = {(c, r["email"].lower()): r["status"]
              for c, rows in gophish_files(folder, "Results").items() for r in rows}
    judged = defaultdict(list)
    for fmt, campaign, rec, ts, automated, reason in ws.sql(
            "SELECT source_format, campaign, recipient, event_ts, automated, automated_reason FROM fct_interactions "
            "WHERE customer = 'hooli' AND kind = 'clicked'").rows():
        judged[(campaign, rec)].append((fmt, ts.replace(microsecond=0), automated, reason))
    seen = Counter()
    for campaign, rows in gophish_files(folder, "Events").items():
        sent = {r["email"].lower(): iso(r["time"]) for r in rows if r["message"] == "Email Sent"}
        for r in rows:
            if r["message"] != "Clicked Link":
                continue
            email, ts = r["email"].lower(), iso(r["time"])
            browser = json.loads(r["details"])["browser"]
            by_ip, by_ua = listed(browser["address"], browser["user-agent"])
            if ts - sent[email] < timedelta(minutes=2):
                continue
            if not (by_ip or by_ua):  # a person: human in both logs (unless the message never arrived)
                judgements = {(fmt, auto) for fmt, t, auto, _ in judged[(campaign, email)]
                              if t == ts.replace(microsecond=0)}
                if truth[("hooli", campaign, campaign, email)][0] == "interacted":
                    assert judgements == {("gophish_events_csv", False), ("proofpoint_tap_json", False)}, email
                    seen["human"] += 1
                continue
            reason = "scanner_ip" if by_ip else "scanner_ua"
            sources = {fmt for fmt, t, auto, why in judged[(campaign, email)]
                       if t == ts.replace(microsecond=0) and auto and why.startswith(reason)}
            assert "gophish_events_csv" in sources, (campaign, email)
            seen[reason] += 1
            seen["tap"] += "proofpoint_tap_json" in sources
            if truth[("hooli", campaign, campaign, email)][0] == "delivered":
                assert status[(campaign, email)] == "Clicked Link"
                seen["delivered"] += 1
    assert seen["scanner_ip"] >= 2 and seen["scanner_ua"] >= 2 and seen["tap"] >= 2 and seen["delivered"] >= 2, seen
    assert seen["human"] >= 2, seen


@pytest.mark.parametrize("customer", ["soylent", "wayne"])
def test_scanner_clicks_from_knowbe4_and_ast_addresses(loaded, customer):
    ws, out = loaded
    truth = truth_rows(out)
    clicks = []  # (campaign, recipient, delivered, clicked, ip)
    if customer == "soylent":
        for line in (out / customer / "knowbe4_pst_recipients.json").read_text(encoding="utf-8").splitlines():
            for r in json.loads(line):
                if r["clicked_at"]:
                    clicks.append((str(r["pst_id"]), r["user"]["email"].lower(), iso(r["delivered_at"]),
                                   iso(r["clicked_at"]), r["ip"]))
    else:
        for path in sorted((out / customer).glob("Benefits Election (*).csv")):
            for r in read_csv(path):
                if r["EmailLinkClicked_TimeStamp"]:
                    clicks.append((path.stem, r["UserMail"].lower(), iso(r["SuccessfullyDeliveredEmail_TimeStamp"]),
                                   iso(r["EmailLinkClicked_TimeStamp"]), r["EmailLinkClicked_IP"]))
    reasons = {(c, r): why for c, r, why in ws.sql(
        "SELECT campaign, recipient, automated_reason FROM fct_interactions WHERE customer = ? AND kind = 'clicked'",
        [customer]).rows()}
    late = 0
    for campaign, email, delivered, clicked, ip in clicks:
        if clicked - delivered > timedelta(seconds=90) and listed(ip, None)[0]:
            outcome = truth[(customer, campaign, campaign, email)][0]
            if outcome == "delivered":
                assert reasons[(campaign, email)].startswith("scanner_ip"), (campaign, email)
                late += 1
    assert late >= 2


def test_clicks_only_the_filter_saw_make_interacted(loaded):
    """A click the filter's URL protection blocked never reached the platform; the filter's log alone shows it."""
    ws, out = loaded
    truth = truth_rows(out)
    found = Counter()
    # hooli: TAP clicksBlocked; the GoPhish events of that campaign have no click by that recipient
    owner = {r["id"]: campaign for campaign, rows in gophish_files(out / "hooli", "Results").items() for r in rows}
    events = gophish_files(out / "hooli", "Events")
    for name, rec in tap_records(out / "hooli"):
        if name == "clicksBlocked":
            campaign = owner[rid_in(rec["url"])]
            assert not any(r["message"] == "Clicked Link" and r["email"].lower() == rec["recipient"]
                           for r in events[campaign])
            assert truth[("hooli", campaign, campaign, rec["recipient"])][0] == "interacted"
            found["hooli"] += 1
    # initech: Mimecast TTP URL lines with action=Block; the export row of that run has no Phished At
    export = read_csv(out / "initech" / "phishsim_export.csv")
    for line in (out / "initech" / "mimecast_ttp_url.log").read_text(encoding="utf-8").splitlines():
        fields = dict(part.split("=", 1) for part in line.split("|"))
        if fields.get("action") != "Block":
            continue
        at = datetime.strptime(fields["datetime"], "%Y-%m-%dT%H:%M:%S%z")
        sent = {id(r): datetime.fromisoformat(r["Sent At"].replace("Z", "+00:00")) for r in export if r["Sent At"]}
        row = max((r for r in export if r["Email"].lower() == fields["recipient"] and id(r) in sent
                   and sent[id(r)] <= at), key=lambda r: sent[id(r)])
        assert row["Phished At"] == ""
        assert truth[("initech", row["Campaign"], row["Campaign Run"], fields["recipient"])][0] == "interacted"
        found["initech"] += 1
    assert found["hooli"] >= 2 and found["initech"] >= 2, found
    blocked = ws.sql("SELECT customer, automated FROM fct_interactions WHERE blocked").rows()
    assert Counter(c for c, _ in blocked) == Counter({"hooli": found["hooli"], "initech": found["initech"]})
    assert not any(auto for _, auto in blocked)


# -- Cisco ESA ----------------------------------------------------------------------------------------------
def test_cisco_release_reissues_the_message_under_a_new_mid(loaded):
    ws, out = loaded
    truth = truth_rows(out)
    export = {r["Message ID"].strip("<>"): r for r in read_csv(out / "umbrella" / "phishsim_export.csv")}
    lines = [line for p in sorted((out / "umbrella").glob("mail_logs.@*.s"))
             for line in p.read_text(encoding="utf-8").splitlines()]
    rcpt, msgid, child = {}, {}, {}
    for line in lines:
        if m := re.search(r"MID (\d+) ICID \d+ RID 0 To: <([^>]+)>", line):
            rcpt[m[1]] = m[2]
        elif m := re.search(r"MID (\d+) Message-ID '<([^>]+)>'", line):
            msgid[m[1]] = m[2]
        elif m := re.search(r"MID (\d+) rewritten to (\d+)", line):
            child[m[1]] = m[2]
    assert len(child) >= 2
    relayed = set(ws.sql("SELECT vendor_id, recipient FROM stg_cisco_esa_text WHERE customer = 'umbrella' "
                         "AND action = 'relayed'").rows())
    for parent, new in child.items():
        assert new not in rcpt  # the new MID has no recipient line of its own
        assert (f"MID {new}", rcpt[parent]) in relayed
        row = export[msgid[parent]]
        assert truth[("umbrella", row["Campaign"], row["Campaign Run"], rcpt[parent])] == ("delivered", "none")


def test_cisco_syslog_mids_are_keyed_by_appliance(loaded):
    ws, out = loaded
    seen = defaultdict(dict)  # MID -> host -> recipient
    for line in (out / "soylent" / "esa_mail_logs_syslog.log").read_text(encoding="utf-8").splitlines():
        if m := re.search(TO_SYSLOG, line):
            seen[m[5]][m[4]] = m[6]
    shared = {mid: hosts for mid, hosts in seen.items() if len(hosts) == 2}
    assert shared, "both appliances should use some of the same MIDs"
    staged = set(ws.sql("SELECT vendor_id, recipient FROM stg_cisco_esa_text WHERE customer = 'soylent' "
                        "AND action = 'received'").rows())
    for mid, hosts in shared.items():
        for host, recipient in hosts.items():
            assert (f"{host} MID {mid}", recipient) in staged


# -- the files themselves -------------------------------------------------------------------------------------
EXPECTED_FORMAT = [
    (r"^phishsim_export\.csv$", "phishsim_csv"), (r"^phishsim_learners\.csv$", "phishsim_learners_csv"),
    (r"^mimecast_(receipt|process|delivery|ttp_url)\.log$", "mimecast_siem"),
    (r"^(mail_logs|bounces)\.@\d{8}T\d{6}\.s$", "cisco_esa_text"),
    (r"^esa_(mail_logs|bounces)_syslog\.log$", "cisco_esa_text"),
    (r"^proofpoint_pod\.json$", "proofpoint_pod_json"), (r"^proofpoint_tap_siem\.json$", "proofpoint_tap_json"),
    (r" - Run \d - Results\.csv$", "gophish_results_csv"), (r" - Run \d - Events\.csv$", "gophish_events_csv"),
    (r"^knowbe4_pst_recipients\.json$", "knowbe4_recipients_json"), (r"\(Run \d\)\.csv$", "ms_ast_csv"),
    (r"^message_trace\.(csv|json)$", "m365_message_trace"), (r"^defender_email_events\.json$", "defender_email_events"),
    (r"^defender_post_delivery\.json$", "defender_post_delivery"),
]


def test_each_file_is_claimed_by_exactly_its_loader(loaded):
    _, out = loaded
    for path in sorted(p for p in out.rglob("*") if p.is_file() and p.name != "truth.csv"):
        fmt = next(f for pattern, f in EXPECTED_FORMAT if re.search(pattern, path.name))
        head = path.read_bytes()[: textio.HEAD_BYTES]
        assert [l.name for l in registry.claimants(head)] == [fmt], path.relative_to(out)


def test_platform_exports_follow_their_documented_shapes(loaded):
    _, out = loaded
    results = out / "hooli" / "Payroll Portal Update - Run 1 - Results.csv"
    raw = results.read_bytes()
    assert raw.startswith(b"id,status,ip,latitude,longitude,send_date,reported,modified_date,email,first_name,"
                          b"last_name,position\r\n") and not raw.endswith(b"\n")  # PapaParse: CRLF, none at the end
    rows = read_csv(results)
    assert {r["status"] for r in rows} >= {"Sending", "Error", "Email Sent", "Email Opened", "Clicked Link",
                                           "Submitted Data"}
    assert all(re.fullmatch(r"[A-Za-z0-9]{7}", r["id"]) for r in rows)
    assert "'-" in {r["position"] for r in rows}  # formula escaping
    events = read_csv(out / "hooli" / "Payroll Portal Update - Run 1 - Events.csv")
    assert events[0]["message"] == "Campaign Created" and events[0]["email"] == ""
    assert [iso(e["time"]) for e in events] == sorted(iso(e["time"]) for e in events)
    assert any(re.search(r"\.\d{1,5}Z$", e["time"]) for e in events)  # trailing zeros of the fraction trimmed
    kb4 = [r for line in (out / "soylent" / "knowbe4_pst_recipients.json").read_text().splitlines()
           for r in json.loads(line)]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", r["scheduled_at"]) for r in kb4)
    assert len({r["pst_id"] for r in kb4}) == 3
    ast = out / "wayne" / "Benefits Election (Run 1).csv"
    assert ast.read_text(encoding="utf-8").splitlines()[0].startswith("UserName,UserMail,Compromised,")
    receipts = (out / "initech" / "mimecast_receipt.log").read_text(encoding="utf-8").splitlines()
    for line in receipts:
        assert re.match(r"datetime=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0100\|aCode=[\w-]{22}\|acc=C0A0\|", line)
        if "|Act=Rej|" in line:  # refused before DATA: no Message-ID, no subject
            assert "|MsgId=" not in line and "|Subject=" not in line
        else:
            assert "|Subject=\\Your parcel could not be delivered: confirm your address\\|" in line
    assert {re.search(r"\|Act=(\w+)\|", line)[1] for line in receipts} == {"Acc", "Rej", "Ign"}
    first = (out / "umbrella").glob("mail_logs.@*.s").__next__().read_text(encoding="utf-8").splitlines()[0]
    assert re.match(r"[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d 2025 Info: ", first)


def test_log_times_are_read_in_their_own_zones(loaded):
    """Cisco lines are appliance local time (America/Chicago file form, Europe/Berlin syslog form, June: DST);
    Mimecast's datetime carries +0100. Staged UTC times equal the file's times converted here."""
    ws, out = loaded
    from zoneinfo import ZoneInfo

    expected = {}
    for path in sorted((out / "umbrella").glob("mail_logs.@*.s")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if m := re.match(TO_FILE, line):
                local = datetime.strptime(f"{m[4]} {m[1]} {m[2]} {m[3]}", "%Y %b %d %H:%M:%S")
                expected[("umbrella", f"MID {m[5]}", m[6])] = local.replace(tzinfo=ZoneInfo(TZ["file"])).astimezone(UTC)
    for line in (out / "soylent" / "esa_mail_logs_syslog.log").read_text(encoding="utf-8").splitlines():
        if m := re.match(TO_SYSLOG, line):
            local = datetime.strptime(f"{YEAR} {m[1]} {m[2]} {m[3]}", "%Y %b %d %H:%M:%S")
            local = local.replace(tzinfo=ZoneInfo(TZ["syslog"]))
            expected[("soylent", f"{m[4]} MID {m[5]}", m[6])] = local.astimezone(UTC)
    staged = {(c, v, r): ts for c, v, r, ts in ws.sql(
        "SELECT customer, vendor_id, recipient, event_ts FROM stg_cisco_esa_text WHERE action = 'received'").rows()}
    assert len(expected) > 100 and {k: staged.get(k) for k in expected} == expected
    mimecast = {}
    for line in (out / "initech" / "mimecast_receipt.log").read_text(encoding="utf-8").splitlines():
        fields = dict(part.split("=", 1) for part in line.split("|") if "=" in part)
        mimecast[(fields["aCode"], fields["Rcpt"])] = datetime.strptime(fields["datetime"], "%Y-%m-%dT%H:%M:%S%z")
    staged = {(v, r): ts for v, r, ts in ws.sql(
        "SELECT vendor_id, recipient, event_ts FROM stg_mimecast_siem WHERE customer = 'initech' "
        "AND action IN ('received', 'rejected', 'dropped')").rows()}
    assert mimecast and {k: staged.get(k) for k in mimecast} == mimecast


def test_mimecast_json_shape_stages_as_the_key_value_shape(ws, tmp_path):
    """The same Mimecast v1 logs written as key=value lines and as JSON records stage to the same events, which
    are the events the writer reports for the truth."""
    from dataclasses import replace

    from phishtrace.samples.writers import writers

    cust = plan_customer(profile_for("initech", 0), 3, 60)
    writer = writers()["mimecast_siem"]
    staged = {}
    for shape in ("kv", "json"):
        ctx = replace(cust.ctx, profile=replace(cust.ctx.profile, options=(("mimecast_shape", shape),)))
        folder = tmp_path / shape
        folder.mkdir()
        assert writer.write(folder / writer.filename(ctx), cust.plans, ctx)
        ws.ingest(f"initech_{shape}", sorted(str(p) for p in folder.iterdir()))
        staged[shape] = Counter(ws.sql(
            "SELECT action, verdict_hop, event_ts, recipient, message_id, vendor_id, url FROM stg_mimecast_siem "
            "WHERE customer = ?", [f"initech_{shape}"]).rows())
    assert staged["kv"] == staged["json"]
    assert (tmp_path / "json" / "mimecast_process.json").read_text().startswith('{"Act":')
    expected = Counter((o.action, o.verdict_hop, o.ts, p.recipient) for p in cust.plans
                       for o in writer.observe(p, cust.ctx))
    assert Counter((a, h, t, r) for a, h, t, r, *_ in staged["json"].elements()) == expected
    assert {a for a, *_ in expected} == {"received", "passed", "quarantined", "dropped", "deferred", "rejected",
                                         "relayed", "bounced", "clicked", "clicked_blocked"}
