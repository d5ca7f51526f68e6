"""Generated customers whose server hop is Google Workspace, Exchange on-premises or Postfix (with and
without a filter in front), or whose mailbox hop is inbox rules / TIMailData / Abnormal: the views must
reproduce the generator's truth exactly, every outcome the sources can express is planted several
times, and the hop semantics (coverage, supersession, rule evidence) come out as docs/outcomes.md says.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from phishtrace import registry, textio
from phishtrace.errors import InputError
from phishtrace.samples.generate import generate, plan_customer
from phishtrace.samples.profiles import profile_for
from phishtrace.samples.profiles_servers import PROFILES, SYSLOG_TZ

CUSTOMERS = tuple(PROFILES)  # piedpiper, cyberdyne, tyrell, vandelay, oscorp
PER_CUSTOMER = 120
OUTCOMES = {
    "scheduling_stalled", "held_bounced_learner", "bounced", "filter_quarantined", "filter_deferred",
    "server_quarantined", "server_junked", "server_failed", "removed_after_delivery", "moved_by_rule",
    "interacted", "delivered", "unverified",
}
NO_FILTER = {"filter_quarantined", "filter_deferred"}
# what each customer's sources cannot express (profiles_servers docstring)
CANNOT = {
    "piedpiper": NO_FILTER | {"server_failed"},
    "cyberdyne": NO_FILTER | {"moved_by_rule", "removed_after_delivery"},
    "tyrell": NO_FILTER | {"removed_after_delivery"},
    "vandelay": {"removed_after_delivery"},
    "oscorp": NO_FILTER,
}
KEY = ("customer", "campaign", "run", "recipient")


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def syslog_year(folder: Path) -> int:
    """The year of the RFC 3164 log's first line: the first run's start in the host's zone."""
    starts = [r["Run Start"] for r in read_csv(folder / "phishsim_export.csv") if r["Campaign Run"] == "Run 1"]
    first = min(datetime.fromisoformat(s.replace("Z", "+00:00")) for s in starts) - timedelta(days=1)
    return first.astimezone(ZoneInfo(SYSLOG_TZ)).year


def ingest_customer(ws, folder: Path) -> None:
    """A customer folder as an analyst loads it: the classic-syslog maillog needs --tz and --year."""
    files = sorted(str(f) for f in folder.iterdir() if f.is_file())
    classic = [f for f in files if folder.name == "vandelay" and f.endswith("maillog")]
    ws.ingest(folder.name, [f for f in files if f not in classic])
    if classic:
        ws.ingest(folder.name, classic, tz=SYSLOG_TZ, year=syslog_year(folder))


@pytest.fixture(scope="module", params=[1, 2], ids=["seed1", "seed2"])
def loaded(request, _template_db, tmp_path_factory):
    """(seed, generated folder, workspace with every customer ingested, outcomes by key)."""
    from phishtrace import Workspace

    seed = request.param
    root = tmp_path_factory.mktemp(f"servers{seed}")
    generate(root / "gen", seed=seed, recipients=PER_CUSTOMER * len(CUSTOMERS), customers=list(CUSTOMERS))
    db = root / "ws.duckdb"
    shutil.copyfile(_template_db, db)
    ws = Workspace(str(db))
    for name in CUSTOMERS:
        ingest_customer(ws, root / "gen" / name)
    rows = {tuple(r[k] for k in KEY): r for r in ws.outcomes().rows(named=True)}
    yield seed, root / "gen", ws, rows
    ws.close()


def truth_rows(out: Path) -> dict[tuple, dict[str, str]]:
    return {tuple(r[k] for k in KEY): r for r in read_csv(out / "truth.csv")}


# -- the planted truth -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", CUSTOMERS)
def test_truth_from_the_files_equals_the_planted_case(name):
    """What the written files say (rules.py on the writers' observations) is what each case was built for."""
    for seed in range(1, 9):
        for n in (35, PER_CUSTOMER):
            cust = plan_customer(profile_for(name, 0), seed, n)
            wrong = [(p.run, p.scenario, p.expected, t) for p, t in zip(cust.plans, cust.truth) if p.expected != t]
            assert not wrong, (seed, n, wrong[:3])


@pytest.mark.parametrize("name", CUSTOMERS)
def test_log_events_stay_in_their_own_message_window(name):
    cust = plan_customer(profile_for(name, 0), 3, PER_CUSTOMER)
    sends: dict[str, list] = {}
    for p in cust.plans:
        if p.sent_at is not None:
            sends.setdefault(p.recipient, []).append(p.sent_at)
    for p, obs in zip(cust.plans, cust.obs):
        for o in obs:
            if o.action == "rule_created":  # a mailbox rule matches when it existed by the window's end
                assert o.ts <= p.sent_at + timedelta(hours=72), (p.scenario, o)
                continue
            assert p.sent_at - timedelta(minutes=5) <= o.ts <= p.sent_at + timedelta(hours=72), (p.scenario, o)
            assert all(o.ts < s for s in sends[p.recipient] if s > p.sent_at), (p.scenario, o)


def test_views_reproduce_the_truth(loaded):
    _, out, ws, got = loaded
    truth = truth_rows(out)
    assert set(got) == set(truth)
    wrong = [(k, (t["outcome"], t["stuck_at"]), (got[k]["outcome"], got[k]["stuck_at"]))
             for k, t in truth.items() if (t["outcome"], t["stuck_at"]) != (got[k]["outcome"], got[k]["stuck_at"])]
    assert not wrong, f"{len(wrong)} of {len(truth)} differ:\n" + "\n".join(map(str, wrong[:30]))
    assert ws.sql("SELECT count(*) AS n FROM load_rejects")["n"][0] == 0


def test_every_expressible_outcome_is_planted_several_times(loaded):
    _, out, _, _ = loaded
    rows = read_csv(out / "truth.csv")
    for name in CUSTOMERS:
        counts = Counter(r["outcome"] for r in rows if r["customer"] == name)
        expected = OUTCOMES - CANNOT[name]
        assert set(counts) == expected, (name, counts)
        assert min(counts.values()) >= 3, (name, counts)
        stuck = {(r["outcome"], r["stuck_at"]) for r in rows if r["customer"] == name}
        assert ("bounced", "platform") in stuck and ("unverified", "server") in stuck, name
        # the message trace has no refusal status of its own ('Failed' is a drop): no server bounce for oscorp
        assert (("bounced", "server") in stuck) is (name != "oscorp"), name
    stuck = {(r["customer"], r["outcome"], r["stuck_at"]) for r in rows}
    assert ("vandelay", "bounced", "filter") in stuck and ("vandelay", "unverified", "filter") in stuck


def test_every_file_is_claimed_by_its_own_loader_only(loaded):
    _, out, _, _ = loaded
    expected = {"phishsim_export.csv": "phishsim_csv", "phishsim_learners.csv": "phishsim_learners_csv",
                "gmail_logs.json": "gmail_bigquery_json", "abnormal_threats.json": "abnormal_threats_json",
                "maillog": "postfix_log", "proofpoint_pod.json": "proofpoint_pod_json",
                "message_trace.csv": "m365_message_trace", "timaildata.json": "m365_timaildata_json",
                "inbox_rules_audit.csv": "m365_inbox_rules_json"}
    seen = set()
    for name in CUSTOMERS:
        for f in sorted((out / name).iterdir()):
            fmt = "exchange_msgtrk" if f.name.startswith("MSGTRK") else expected[f.name]
            head = f.read_bytes()[: textio.HEAD_BYTES]
            assert [l.name for l in registry.claimants(head)] == [fmt], f
            seen.add(fmt)
    assert {"gmail_bigquery_json", "exchange_msgtrk", "postfix_log", "m365_timaildata_json",
            "m365_inbox_rules_json", "abnormal_threats_json"} <= seen


# -- coverage: a log that ends before the message was sent -----------------------------------------
@pytest.mark.parametrize("name,fmt", [("cyberdyne", "exchange_msgtrk"), ("tyrell", "postfix_log")])
def test_a_server_log_that_ends_early_never_says_no_record(loaded, name, fmt):
    _, _, ws, got = loaded
    end = ws.sql("SELECT max(window_end) AS e FROM load_manifest WHERE customer = ? AND format = ?",
                 [name, fmt])["e"][0]
    mine = [r for k, r in got.items() if k[0] == name and r["sent_at"] is not None]
    assert all(r["server_covered"] is False for r in mine if r["sent_at"] > end)
    late = [r for r in mine if r["sent_at"] > end and r["outcome"] == "unverified"]
    assert len(late) >= 2
    for r in late:  # nothing after the log's end: not covered, load more (not "no record")
        assert r["stuck_at"] == "platform"
        assert r["next_step"].startswith(f"Load mail server logs ({fmt}) covering"), r["next_step"]
    silent = [r for r in mine if r["sent_at"] <= end and (r["outcome"], r["stuck_at"]) == ("unverified", "platform")]
    assert silent
    for r in silent:  # covered, and the log has nothing: search it
        assert r["server_covered"] is True
        assert r["next_step"].startswith("The server logs cover"), r["next_step"]


# -- mailbox evidence -------------------------------------------------------------------------------
def test_removed_after_delivery_comes_from_abnormal_and_timaildata(loaded):
    _, _, _, got = loaded
    sources = Counter((k[0], r["evidence_source"]) for k, r in got.items() if r["outcome"] == "removed_after_delivery")
    assert set(sources) == {("piedpiper", "abnormal_threats_json"), ("oscorp", "abnormal_threats_json"),
                            ("oscorp", "m365_timaildata_json")}, sources


def test_moved_by_rule_evidence_per_source(loaded):
    _, _, _, got = loaded
    sources = {(k[0], r["evidence_source"]) for k, r in got.items() if r["outcome"] == "moved_by_rule"}
    assert {("piedpiper", "gmail_bigquery_json"), ("tyrell", "postfix_log"), ("vandelay", "postfix_log"),
            ("oscorp", "m365_inbox_rules_json")} <= sources, sources
    rules = [r for k, r in got.items() if r["evidence_source"] == "m365_inbox_rules_json"]
    assert all(r["outcome"] == "moved_by_rule" and r["stuck_at"] == "mailbox" for r in rules)
    assert all("matches the message's" in r["evidence_detail"] and r["evidence_detail"].startswith("rule '")
               for r in rules)


def rule_records(out: Path) -> list[dict]:
    return [json.loads(r["AuditData"]) for r in read_csv(out / "oscorp" / "inbox_rules_audit.csv")]


def conditions_match(rec: dict, sender: str, subject: str) -> bool:
    """Independent reading of one record: succeeded, moves or deletes, and every condition matches."""
    if rec["Operation"] == "UpdateInboxRules":
        props = {p["Name"]: p["Value"] for p in rec["OperationProperties"]}
        moves = any(a["ActionType"] in ("Move", "Delete") for a in json.loads(props["RuleActions"]))
        return moves and f"SMTP:{sender.upper()}" in props["RuleCondition"].upper()
    if rec["ResultStatus"] != "True":
        return False
    p = {x["Name"]: x["Value"] for x in rec["Parameters"]}
    if not (p.get("MoveToFolder") or p.get("DeleteMessage") == "True"):
        return False
    checks = []
    if "From" in p:
        checks.append(p["From"].lower() == sender)
    if "FromAddressContainsWords" in p:
        checks.append(p["FromAddressContainsWords"].lower() == sender.split("@")[1])
    if "SubjectContainsWords" in p:
        checks.append(any(w.lower() in subject.lower() for w in p["SubjectContainsWords"].split(";")))
    return bool(checks) and all(checks)


def mailbox_of(rec: dict) -> str:
    if rec["Operation"] == "UpdateInboxRules":
        return rec["MailboxOwnerUPN"].lower()
    p = {x["Name"]: x["Value"] for x in rec["Parameters"]}
    return (p["Identity"].split("\\")[0] if "Identity" in p else rec["UserId"]).lower()


def test_only_inbox_rules_that_match_the_message_make_moved_by_rule(loaded):
    _, out, _, got = loaded
    oscorp = {k: r for k, r in got.items() if k[0] == "oscorp"}
    sender, subject = next(iter(oscorp.values()))["sender"], next(iter(oscorp.values()))["subject"]
    records = rule_records(out)
    matching = {mailbox_of(r) for r in records if conditions_match(r, sender, subject)}
    others = {mailbox_of(r) for r in records if not conditions_match(r, sender, subject)}
    kinds = set()
    for r in records:
        if not conditions_match(r, sender, subject):
            p = {x["Name"]: x["Value"] for x in r.get("Parameters", [])}
            kinds.add(r["Operation"] if r["Operation"] == "UpdateInboxRules" else
                      "failed" if r["ResultStatus"] != "True" else
                      "no move" if not (p.get("MoveToFolder") or p.get("DeleteMessage")) else ",".join(sorted(p)))
    assert len(kinds) >= 5, kinds  # other sender, mark-read only, other subject, sender AND other subject, failed, MAPI
    by_rule = {k[3] for k, r in oscorp.items() if r["evidence_source"] == "m365_inbox_rules_json"}
    assert by_rule and by_rule <= matching
    sent = {k[3] for k, r in oscorp.items() if r["sent_at"] is not None}
    spared = others & sent
    assert spared, "no non-matching rule on a mailbox that was sent the simulation"
    for k, r in oscorp.items():
        if k[3] in spared:
            assert r["evidence_source"] != "m365_inbox_rules_json", (k, r["evidence_detail"])
    assert any(oscorp[k]["outcome"] in ("delivered", "interacted") for k in oscorp if k[3] in spared)


# -- supersession ------------------------------------------------------------------------------------
def test_later_evidence_supersedes_a_negative_verdict(loaded):
    _, _, _, got = loaded
    delivered = {k: r for k, r in got.items() if r["outcome"] in ("delivered", "interacted")}
    # Gmail: spam then moved to the Inbox (mailbox hop), or quarantined then released (type 6)
    assert any(k[0] == "piedpiper" and r["server_state"] in ("junked", "delivered")
               and r["mailbox_state"] == "delivered" for k, r in delivered.items())
    # TIMailData: quarantine released / junk redelivered to the Inbox
    assert any(k[0] == "oscorp" and r["server_state"] == "delivered" and r["evidence_source"] == "m365_timaildata_json"
               for k, r in delivered.items())
    # Proofpoint quarantined it, the release was not logged, Postfix delivered it hours later
    assert any(k[0] == "vandelay" and r["filter_state"] == "quarantined" and r["server_state"] == "delivered"
               for k, r in delivered.items())


# -- file shapes ---------------------------------------------------------------------------------------
def test_file_shapes(loaded):
    seed, out, _, _ = loaded
    first = json.loads((out / "piedpiper" / "gmail_logs.json").read_text(encoding="utf-8").splitlines()[0])
    assert ({"row", "schema"} <= set(first)) if seed % 2 == 0 else ({"event_info", "message_info"} <= set(first))
    (msgtrk,) = (out / "cyberdyne").glob("MSGTRK*.LOG")
    raw = msgtrk.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf#Software: Microsoft Exchange Server\r\n")
    assert raw.count(b"\n") == raw.count(b"\r\n")
    fields = next(line for line in raw.decode("utf-8-sig").splitlines() if line.startswith("#Fields: "))
    assert len(fields.split(",")) == 30
    assert b',"MDB:' in raw  # source-context with commas is quoted
    tyrell_log = (out / "tyrell" / "maillog").read_text(encoding="utf-8").splitlines()
    assert all(line[:4].isdigit() and line[26:32] == "+02:00" for line in tyrell_log), tyrell_log[0]
    classic = (out / "vandelay" / "maillog").read_text(encoding="utf-8").splitlines()
    assert all(line[:3] in ("May", "Jun", "Jul") and line[3] == " " for line in classic), classic[0]
    assert any("orig_to=<" in line for line in tyrell_log) and any("queued as" in line for line in classic)
    assert read_csv(out / "oscorp" / "inbox_rules_audit.csv")[0].keys() >= {"CreationDate", "AuditData"}
    assert json.loads((out / "oscorp" / "timaildata.json").read_text(encoding="utf-8"))[0]["Operation"] == "TIMailData"


def test_classic_syslog_without_year_or_zone_is_refused(loaded, tmp_path, _template_db):
    from phishtrace import Workspace

    _, out, _, _ = loaded
    db = tmp_path / "w.duckdb"
    shutil.copyfile(_template_db, db)
    ws = Workspace(str(db))
    try:
        with pytest.raises(InputError, match="--year"):
            ws.ingest("vandelay", [str(out / "vandelay" / "maillog")], tz=SYSLOG_TZ)
        with pytest.raises(InputError, match="--tz"):
            ws.ingest("vandelay", [str(out / "vandelay" / "maillog")], year=2025)
        assert ws.sql("SELECT count(*) AS n FROM raw_postfix_log")["n"][0] == 0
        assert ws.sql("SELECT count(*) AS n FROM load_manifest")["n"][0] == 0
    finally:
        ws.close()


def test_same_seed_same_bytes(tmp_path):
    names = ["piedpiper", "oscorp", "vandelay"]
    generate(tmp_path / "a", seed=4, recipients=90, customers=names)
    generate(tmp_path / "b", seed=4, recipients=90, customers=names)
    def files(root: Path) -> dict[str, bytes]:
        return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}

    assert files(tmp_path / "a") == files(tmp_path / "b")


# -- the Postfix loader keeps a rewritten recipient's original address on expiry ----------------------
def test_expired_message_keeps_the_original_recipient(ws, tmp_path):
    log = tmp_path / "maillog"
    log.write_text(
        "2025-06-02T10:00:00.100000+02:00 mx1 postfix/cleanup[11]: 4A1B2C3D4E5: message-id=<m1@sim.example>\n"
        "2025-06-02T10:00:00.200000+02:00 mx1 postfix/qmgr[12]: 4A1B2C3D4E5: from=<it@sim.example>, size=900, "
        "nrcpt=1 (queue active)\n"
        "2025-06-02T10:00:01.000000+02:00 mx1 postfix/lmtp[13]: 4A1B2C3D4E5: to=<ann@vmail.corp.example>, "
        "orig_to=<Ann@corp.example>, relay=mail.corp.example[/var/run/dovecot/lmtp], delay=1, delays=0.1/0/0/0.9, "
        "dsn=4.2.0, status=deferred (host mail.corp.example[/var/run/dovecot/lmtp] said: 451 4.2.0 locked)\n"
        "2025-06-03T10:05:00.000000+02:00 mx1 postfix/qmgr[12]: 4A1B2C3D4E5: from=<it@sim.example>, "
        "status=expired, returned to sender\n", encoding="utf-8")
    ws.ingest("c", [str(log)])
    rows = ws.sql("SELECT action, recipient, message_id, reason FROM stg_postfix_log ORDER BY event_ts"
                  ).rows(named=True)
    assert [(r["action"], r["recipient"], r["message_id"]) for r in rows] == [
        ("deferred", "ann@corp.example", "m1@sim.example"), ("dropped", "ann@corp.example", "m1@sim.example")]
    assert "rewritten to ann@vmail.corp.example" in rows[1]["reason"]
