"""The seeded sample generator: determinism, planted outcomes and hard cases, real formats."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from phishtrace.errors import PhishtraceError
from phishtrace.samples import generate
from phishtrace.samples.generate import plan_customer
from phishtrace.samples.profiles import profile_for

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"
UTC = timezone.utc

# docs/outcomes.md §3
OUTCOMES = {
    "scheduling_stalled", "held_bounced_learner", "bounced", "filter_quarantined", "filter_deferred",
    "server_quarantined", "server_junked", "server_failed", "removed_after_delivery", "moved_by_rule",
    "interacted", "delivered", "unverified",
}
EXPORT_HEADER = ("Campaign,Campaign Run,Run Start,Run End,First Name,Last Name,Email,Status,Scheduled At,Sent At,"
                 "Delivered At,Opened At,Phished At,Replied At,Entered Data At,Reported At,Bounced At,Bounce Reason,"
                 "Sender,Subject,Message ID")
TRACE_HEADER = ('"PSComputerName","RunspaceId","PSShowComputerName","Organization","MessageId","Received",'
                '"SenderAddress","RecipientAddress","Subject","Status","ToIP","FromIP","Size","MessageTraceId",'
                '"StartDate","EndDate","Index"')
FILE_FORMATS = {
    "phishsim_export.csv": "phishsim_csv",
    "phishsim_learners.csv": "phishsim_learners_csv",
    "proofpoint_pod.json": "proofpoint_pod_json",
    "message_trace.csv": "m365_message_trace",
    "message_trace.json": "m365_message_trace",
    "defender_email_events.json": "defender_email_events",
    "defender_post_delivery.json": "defender_post_delivery",
}
EXPORT_TIME_COLUMNS = ("Run Start", "Run End", "Scheduled At", "Sent At", "Delivered At", "Opened At", "Phished At",
                       "Replied At", "Entered Data At", "Reported At", "Bounced At")


# -- helpers ---------------------------------------------------------------------------------
def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def en_us(value: str) -> datetime:
    return datetime.strptime(value, "%m/%d/%Y %I:%M:%S %p").replace(tzinfo=UTC)


def json_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def trace_csv(path: Path) -> list[dict[str, str]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return list(csv.DictReader(lines[1:]))


def truth_by_row(out: Path) -> dict[str, list[dict[str, str]]]:
    rows = defaultdict(list)
    for r in read_csv(out / "truth.csv"):
        rows[r["customer"]].append(r)
    return rows


def export_with_truth(out: Path, customer: str) -> list[tuple[dict[str, str], dict[str, str]]]:
    export = read_csv(out / customer / "phishsim_export.csv")
    truth = truth_by_row(out)[customer]
    assert len(export) == len(truth)
    return list(zip(export, truth))


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("samples")
    generate(folder, seed=7, recipients=60)
    return folder


# -- determinism and layout -----------------------------------------------------------------
def files_of(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_seed_gives_identical_bytes(tmp_path, out):
    generate(tmp_path, seed=7, recipients=60)
    assert files_of(tmp_path) == files_of(out)


def test_different_seed_gives_different_files(tmp_path, out):
    generate(tmp_path, seed=8, recipients=60)
    a, b = files_of(tmp_path), files_of(out)
    assert a.keys() == b.keys()
    assert all(a[k] != b[k] for k in a if k.endswith(("phishsim_export.csv", "proofpoint_pod.json")))


def test_layout_and_truth_rows(out):
    truth_path = out / "truth.csv"
    assert truth_path.read_text(encoding="utf-8").splitlines()[0] == "customer,campaign,run,recipient,outcome,stuck_at"
    assert sorted(p.name for p in (out / "acme").iterdir()) == [
        "defender_email_events.json", "defender_post_delivery.json", "message_trace.csv", "phishsim_export.csv",
        "phishsim_learners.csv", "proofpoint_pod.json"]
    assert sorted(p.name for p in (out / "globex").iterdir()) == [
        "defender_email_events.json", "defender_post_delivery.json", "message_trace.json", "phishsim_export.csv",
        "phishsim_learners.csv"]
    learners = sum(len(read_csv(out / c / "phishsim_learners.csv")) for c in ("acme", "globex"))
    assert learners == 60
    for customer in ("acme", "globex"):
        for row, truth in export_with_truth(out, customer):
            assert (truth["campaign"], truth["run"], truth["recipient"]) == (
                row["Campaign"], row["Campaign Run"], row["Email"].lower())
            assert truth["recipient"] == truth["recipient"].lower()


def test_committed_samples_are_this_generators_output(tmp_path):
    if not (SAMPLES / "truth.csv").exists():
        pytest.skip("data/samples not generated")
    generate(tmp_path, seed=7, recipients=60)
    committed = {k: v for k, v in files_of(SAMPLES).items() if not k.endswith("README.md")}
    assert committed == files_of(tmp_path)


def test_bad_arguments(tmp_path):
    with pytest.raises(PhishtraceError, match="recipients"):
        generate(tmp_path, recipients=3)
    with pytest.raises(PhishtraceError, match="customer name"):
        generate(tmp_path, customers=["../evil"])
    with pytest.raises(PhishtraceError, match="distinct"):
        generate(tmp_path, customers=["a", "a"])


def test_other_customer_names_take_the_profiles_in_turn(tmp_path):
    generate(tmp_path, seed=2, recipients=90, customers=["north", "south", "east"])
    truth = truth_by_row(tmp_path)
    assert sorted(truth) == ["east", "north", "south"]
    assert (tmp_path / "north" / "proofpoint_pod.json").exists()
    assert not (tmp_path / "south" / "proofpoint_pod.json").exists()
    assert (tmp_path / "east" / "proofpoint_pod.json").exists()


# -- planted outcomes -------------------------------------------------------------------------
@pytest.mark.parametrize("recipients", [60, 400])
def test_every_outcome_is_planted(tmp_path, recipients):
    generate(tmp_path, seed=11, recipients=recipients)
    rows = read_csv(tmp_path / "truth.csv")
    counts = Counter(r["outcome"] for r in rows)
    assert set(counts) == OUTCOMES
    if recipients >= 400:
        assert min(counts.values()) >= 3, counts
    stuck = defaultdict(set)
    for r in rows:
        stuck[r["outcome"]].add(r["stuck_at"])
    assert stuck["bounced"] == {"platform", "filter", "server"}
    assert stuck["unverified"] == {"platform", "filter", "server"}
    assert stuck["interacted"] == stuck["delivered"] == {"none"}
    assert stuck["removed_after_delivery"] == stuck["moved_by_rule"] == {"mailbox"}


@pytest.mark.parametrize("name,index", [("acme", 0), ("globex", 1)])
def test_truth_from_the_files_equals_the_planted_case(name, index):
    """The rules applied to what the files say give the outcome each planted case was built for."""
    for seed in range(1, 25):
        for n in (30, 151):
            cust = plan_customer(profile_for(name, index), seed, n)
            wrong = [(p.run, p.scenario, p.expected, t) for p, t in zip(cust.plans, cust.truth) if p.expected != t]
            assert not wrong, (seed, n, wrong[:3])


@pytest.mark.parametrize("name,index", [("acme", 0), ("globex", 1)])
def test_log_events_fall_in_the_match_window_of_their_own_run(name, index):
    cust = plan_customer(profile_for(name, index), 5, 200)
    sends = defaultdict(list)
    for p in cust.plans:
        if p.sent_at is not None:
            sends[p.recipient].append(p.sent_at)
    for p, obs in zip(cust.plans, cust.obs):
        if p.sent_at is None:
            assert not obs and not p.interactions
            continue
        for o in obs:
            assert p.sent_at - timedelta(minutes=5) <= o.ts <= p.sent_at + timedelta(hours=72), (p.scenario, o)
            later = [s for s in sends[p.recipient] if s > p.sent_at]
            assert all(o.ts < s for s in later), "an event would join the recipient's next run"
        for i in p.interactions:
            assert p.sent_at < i.ts <= p.sent_at + timedelta(hours=72)
            if i.human and i.kind != "reported":
                delivered = [o.ts for o in obs if o.action == "delivered"]
                assert delivered and all(i.ts - d >= timedelta(minutes=3) for d in delivered)


# -- hard cases, read from the written files ---------------------------------------------------
def test_message_ids_in_export(out):
    acme = read_csv(out / "acme" / "phishsim_export.csv")
    ids = [r["Message ID"] for r in acme if r["Sent At"]]
    assert ids and all(ids)
    assert any(i.startswith("<") and i.endswith(">") for i in ids)
    assert any(not i.startswith("<") for i in ids)
    assert all(r["Message ID"] == "" for r in acme if not r["Sent At"])
    globex = read_csv(out / "globex" / "phishsim_export.csv")
    assert all(r["Message ID"] == "" for r in globex)
    assert all(r["Sender"] for r in acme + globex)


def test_recipient_letter_case_differs_between_export_and_logs(out):
    for customer, trace in (("acme", "message_trace.csv"), ("globex", "message_trace.json")):
        export = read_csv(out / customer / "phishsim_export.csv")
        rows = trace_csv(out / customer / trace) if trace.endswith(".csv") else json_lines(out / customer / trace)[:-1]
        logged = {r["RecipientAddress"] for r in rows}
        mixed = {r["Email"] for r in export if r["Email"] != r["Email"].lower()}
        assert any(m.lower() in logged and m not in logged for m in mixed), customer


def test_export_timestamps_use_three_offsets(out):
    offsets = set()
    for customer in ("acme", "globex"):
        for row in read_csv(out / customer / "phishsim_export.csv"):
            for col in EXPORT_TIME_COLUMNS:
                if row[col]:
                    m = re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)", row[col])
                    assert m, row[col]
                    offsets.add(m.group(1))
    assert {"Z", "+02:00", "-05:00"} <= offsets


def test_clicks_on_quarantined_messages(out):
    seen = set()
    for customer in ("acme", "globex"):
        for row, truth in export_with_truth(out, customer):
            if row["Status"] == "Phished" and truth["outcome"] in ("filter_quarantined", "server_quarantined"):
                assert row["Phished At"]
                seen.add(truth["outcome"])
    assert seen == {"filter_quarantined", "server_quarantined"}


def test_scanner_click_seconds_after_delivery_is_not_an_interaction(out):
    trace = {r["MessageId"]: en_us(r["Received"]) for r in trace_csv(out / "acme" / "message_trace.csv")}
    found = 0
    for row, truth in export_with_truth(out, "acme"):
        if row["Status"] == "Phished" and truth["outcome"] == "delivered":
            received = trace["<" + row["Message ID"].strip("<>") + ">"]
            assert timedelta(seconds=2) <= iso(row["Phished At"]) - received <= timedelta(seconds=20)
            found += 1
    assert found


def test_zap_hours_after_delivery(out):
    for customer in ("acme", "globex"):
        events = {r["properties"]["NetworkMessageId"]: r["properties"]
                  for r in json_lines(out / customer / "defender_email_events.json")}
        zaps = json_lines(out / customer / "defender_post_delivery.json")
        assert zaps
        removed = {r["recipient"] for r in truth_by_row(out)[customer] if r["outcome"] == "removed_after_delivery"}
        for z in zaps:
            p = z["properties"]
            assert (p["ActionType"], p["ActionResult"], p["DeliveryLocation"]) == ("Phish ZAP", "Success", "Quarantine")
            ee = events[p["NetworkMessageId"]]
            assert ee["InternetMessageId"] == p["InternetMessageId"]
            assert ee["RecipientEmailAddress"] == p["RecipientEmailAddress"]
            assert timedelta(hours=1) <= iso(p["Timestamp"]) - iso(ee["Timestamp"]) <= timedelta(hours=48)
            assert p["RecipientEmailAddress"] in removed


def test_messages_sent_after_the_trace_export_ended(out):
    trace = json_lines(out / "globex" / "message_trace.json")
    end = iso(trace[0]["EndDate"])
    late = [(row, truth) for row, truth in export_with_truth(out, "globex") if row["Sent At"] and iso(row["Sent At"]) > end]
    assert late
    logged = {r["RecipientAddress"] for r in trace[:-1] if iso(r["Received"] if r["Received"].endswith("Z") else r["Received"] + "Z") > end}
    assert not logged
    for row, truth in late:
        assert (truth["outcome"], truth["stuck_at"]) == ("unverified", "platform")


def test_learner_flagged_bounced_is_held(out):
    for customer in ("acme", "globex"):
        flagged = {r["Email"].lower() for r in read_csv(out / customer / "phishsim_learners.csv") if r["Bounced"] == "true"}
        assert flagged
        held = [(row, truth) for row, truth in export_with_truth(out, customer)
                if row["Email"].lower() in flagged and row["Status"] == "Scheduled"]
        assert held
        for row, truth in held:
            assert row["Run End"] == "" and not row["Sent At"]  # only the flag makes it held
            assert truth["outcome"] == "held_bounced_learner"


def test_scheduled_row_in_an_ended_run_is_held(out):
    found = 0
    for customer in ("acme", "globex"):
        flagged = {r["Email"].lower() for r in read_csv(out / customer / "phishsim_learners.csv") if r["Bounced"] == "true"}
        for row, truth in export_with_truth(out, customer):
            if row["Status"] == "Scheduled" and row["Email"].lower() not in flagged:
                assert row["Run End"] and truth["outcome"] == "held_bounced_learner"
                found += 1
    assert found


def test_stalled_run_started_well_before_the_latest_timestamp(out):
    for customer in ("acme", "globex"):
        rows = export_with_truth(out, customer)
        stalled = [(r, t) for r, t in rows if r["Status"] == "Scheduling"]
        assert stalled and all(t["outcome"] == "scheduling_stalled" for _, t in stalled)
        assert all(not r["Scheduled At"] and not r["Sent At"] for r, _ in stalled)
        latest = max(iso(r[c]) for r, _ in rows for c in EXPORT_TIME_COLUMNS if r[c] and r["Status"] != "Scheduling")
        for r, _ in stalled:
            assert iso(r["Run Start"]) < latest - timedelta(minutes=10)


def test_same_sender_and_subject_in_every_log(out):
    for customer in ("acme", "globex"):
        export = read_csv(out / customer / "phishsim_export.csv")
        senders, subjects = {r["Sender"] for r in export}, {r["Subject"] for r in export}
        assert len(senders) == len(subjects) == 1
        for r in json_lines(out / customer / "defender_email_events.json"):
            assert {r["properties"]["SenderMailFromAddress"]} == senders
            assert {r["properties"]["Subject"]} == subjects
    for r in trace_csv(out / "acme" / "message_trace.csv"):
        assert (r["SenderAddress"], r["Subject"]) == ("it-helpdesk@account-notice.example",
                                                      "Action required: your password expires today")
    for r in json_lines(out / "acme" / "proofpoint_pod.json"):
        if r["type"] == "message":
            assert r["envelope"]["from"] == "it-helpdesk@account-notice.example"


# -- formats -----------------------------------------------------------------------------------
def test_phishsim_files_follow_the_documented_schema(out):
    for customer in ("acme", "globex"):
        text = (out / customer / "phishsim_export.csv").read_text(encoding="utf-8")
        assert text.splitlines()[0] == EXPORT_HEADER
        statuses = {r["Status"] for r in read_csv(out / customer / "phishsim_export.csv")}
        assert statuses <= {"Scheduling", "Scheduled", "Sent", "Delivered", "Bounced", "Opened", "Phished", "Replied",
                            "Entered Data"}
        learners = (out / customer / "phishsim_learners.csv").read_text(encoding="utf-8")
        assert learners.splitlines()[0] == "Email,First Name,Last Name,Bounced,Bounced At,Bounce Reason"
        assert {r["Bounced"] for r in read_csv(out / customer / "phishsim_learners.csv")} == {"true", "false"}


def test_message_trace_export_csv_shape(out):
    lines = (out / "acme" / "message_trace.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("#TYPE ")
    assert lines[1] == TRACE_HEADER
    rows = trace_csv(out / "acme" / "message_trace.csv")
    us = re.compile(r"\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d\d:\d\d [AP]M")
    for r in rows:
        assert us.fullmatch(r["Received"]) and us.fullmatch(r["StartDate"]) and us.fullmatch(r["EndDate"])
        assert r["MessageId"].startswith("<") and r["MessageId"].endswith(">")
        assert en_us(r["StartDate"]) <= en_us(r["Received"]) <= en_us(r["EndDate"])
        assert r["PSShowComputerName"] == "False" and r["RunspaceId"]
    received = [en_us(r["Received"]) for r in rows]
    assert received == sorted(received, reverse=True)
    assert [int(r["Index"]) for r in rows] == list(range(len(rows)))


def test_message_trace_json_shape(out):
    raw = (out / "globex" / "message_trace.json").read_bytes()
    assert b'"MessageId":"\\u003c' in raw
    records = json_lines(out / "globex" / "message_trace.json")
    assert records[-1] == {"odata.metadata": records[-1]["odata.metadata"], "value": []}
    received = [r["Received"] for r in records[:-1]]
    assert any(v.endswith("Z") for v in received) and any(not v.endswith("Z") for v in received)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z?", v) for v in received)
    assert all(r["MessageId"].startswith("<") for r in records[:-1])


def test_trace_statuses_cover_the_vocabulary(out):
    statuses = {r["Status"] for r in trace_csv(out / "acme" / "message_trace.csv")}
    statuses |= {r["Status"] for r in json_lines(out / "globex" / "message_trace.json")[:-1]}
    assert statuses == {"Delivered", "Quarantined", "FilteredAsSpam", "Failed", "Pending"}


def test_defender_envelopes(out):
    combos = set()
    for customer in ("acme", "globex"):
        for name, category in (("defender_email_events.json", "AdvancedHunting-EmailEvents"),
                               ("defender_post_delivery.json", "AdvancedHunting-EmailPostDeliveryEvents")):
            raw = (out / customer / name).read_bytes()
            assert raw.endswith(b"\r\n") and raw.count(b"\n") == raw.count(b"\r\n")
            for r in json_lines(out / customer / name):
                assert r["category"] == category and r["operationName"] == "Publish"
                assert iso(r["time"][:26] + "Z") > iso(r["properties"]["Timestamp"])
                if category.endswith("EmailEvents"):
                    combos.add((r["properties"]["DeliveryAction"], r["properties"]["DeliveryLocation"]))
    assert combos == {("Delivered", "Inbox/folder"), ("Junked", "Junk"), ("Blocked", "Quarantine"),
                      ("Blocked", "Dropped"), ("Delivered", "Deleted items")}


def test_proofpoint_pod_records(out):
    records = json_lines(out / "acme" / "proofpoint_pod.json")
    messages = [r for r in records if r["type"] == "message"]
    maillog = [r for r in records if r["type"] == "maillog"]
    assert {m["filter"]["disposition"] for m in messages} == {"continue", "discard", "reject", "retry"}
    for m in messages:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}-0700", m["ts"])
        assert m["filter"]["routeDirection"] == "inbound"
        assert [a for a in m["filter"]["actions"] if a.get("isFinal")]
        assert m["msg"]["header"]["message-id"][0] == "<" + m["msg"]["normalizedHeader"]["message-id"][0] + ">"
    quarantines = {(m["filter"]["disposition"], m["filter"]["quarantine"]["folder"], m["filter"]["quarantine"]["rule"])
                   for m in messages if "quarantine" in m["filter"]}
    assert {("discard", "Phish", "phish"), ("discard", "Bulk", "bulk"), ("continue", "Bulk", "audit")} <= quarantines
    qids = {m["filter"]["qid"] for m in messages}
    mx = "acme-corp-example.mail.protection.outlook.com."
    outcomes = set()
    for r in maillog:
        assert r["sm"]["qid"] in qids
        assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}-07:00 ", r["data"])
        if "to" in r["sm"]:
            assert r["sm"]["mailer"] == "esmtp" and r["sm"]["relay"].startswith(mx)
            outcomes.add((r["sm"]["dsn"][0], r["sm"]["stat"].split(" ")[0].rstrip(":")))
    assert outcomes == {("2", "Sent"), ("5", "User"), ("4", "Deferred")}
    assert any(r["sm"]["stat"].startswith("Sent (Ok: queued as ") for r in maillog if "stat" in r["sm"])


def test_each_file_is_claimed_by_exactly_its_loader(out):
    from phishtrace import registry

    for path in sorted(out.rglob("*")):
        if not path.is_file() or path.name == "truth.csv":
            continue
        with path.open("rb") as fh:
            head = fh.read(64 * 1024)
        claimed = [l.name for l in registry.claimants(head)]
        assert claimed == [FILE_FORMATS[path.name]], f"{path.relative_to(out)}: claimed by {claimed}"
