"""GoPhish loaders (formats.md §1.1): the real API example, Results / Events CSV samples and bad input.

No real GoPhish CSV file is public. The CSV samples in tests/data/gophish/ are derived from JSON with the
PapaParse rules of formats.md §1.1.1 (header = keys of the first object, CRLF, no newline after the last
row, quoting only for '"', CR, LF, ',' or a leading/trailing space, formula escaping with a leading "'"):
the "Example Campaign" files from the real API fixture, the "Coverage Campaign" files from
tests/data/gophish/coverage_campaign.json. test_samples_are_papaparse_derivations re-derives them.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from phishtrace import InputError, registry, textio

DATA = Path(__file__).parent / "data" / "gophish"
UTC = timezone.utc
V6 = "id,email,first_name,last_name,position,status,ip,latitude,longitude,send_date,reported".split(",")


def papaparse_cell(value, escape_formulae=True):
    """One cell as PapaParse 5.2 unparse() writes it (formats.md §1.1.1)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))
    else:
        text = str(value)
    if escape_formulae and isinstance(value, str) and text[:1] in ("=", "+", "-", "@") and "\n" not in text:
        text = "'" + text
    text = text.replace('"', '""')
    quote = any(c in text for c in '\r\n",') or text[:1] == " " or text[-1:] == " "
    return f'"{text}"' if quote else text


def papaparse_unparse(records, escape_formulae=True):
    fields = list(records[0])
    lines = [",".join(papaparse_cell(f, escape_formulae) for f in fields)]
    lines += [",".join(papaparse_cell(r.get(f), escape_formulae) for f in fields) for r in records]
    return "\r\n".join(lines)


def fixture(real):
    return json.loads((real / "gophish" / "api_campaign_results_example.json").read_text())


def ts(text):
    """An RFC 3339 'Z' time with any fraction, written independently of the loader."""
    head, _, frac = text.rstrip("Z").partition(".")
    return datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(microsecond=int((frac + "000000")[:6]), tzinfo=UTC)


def messages(ws, view, where="true"):
    return {r["recipient"]: r for r in ws.sql(f"SELECT * FROM {view} WHERE {where}").rows(named=True)}


def interactions(ws, view):
    return ws.sql(f"SELECT recipient, kind, event_ts, client_ip, user_agent, detail FROM {view} "
                  "ORDER BY recipient, event_ts NULLS FIRST, kind").rows(named=True)


def assert_nothing_loaded(ws, fmt):
    assert ws.sql(f"SELECT count(*) AS n FROM raw_{fmt}")["n"][0] == 0
    assert ws.sql("SELECT count(*) AS n FROM load_manifest")["n"][0] == 0


# -- the samples themselves -----------------------------------------------------------------------

def test_samples_are_papaparse_derivations(real):
    fx = fixture(real)
    cov = json.loads((DATA / "coverage_campaign.json").read_text())
    expected = {
        "Example Campaign - Results.csv": papaparse_unparse(fx["results"]),
        "Example Campaign - Events.csv": papaparse_unparse([{"campaign_id": fx["id"], **e} for e in fx["timeline"]]),
        "Example Campaign v0.9 - Events.csv": papaparse_unparse(fx["timeline"], escape_formulae=False),
        "Example Campaign v0.6 - Results.csv": papaparse_unparse([{k: r[k] for k in V6} for r in fx["results"]], False),
        "Example Campaign v0.5 - Results.csv": papaparse_unparse([{k: r[k] for k in V6[:-1]} for r in fx["results"]],
                                                                 False),
        "Coverage Campaign - Results.csv": papaparse_unparse(cov["results"]),
        "Coverage Campaign - Events.csv": papaparse_unparse([{"campaign_id": cov["id"], **e} for e in cov["timeline"]]),
    }
    for name, text in expected.items():
        assert (DATA / name).read_bytes() == text.encode(), name
    # formats.md §1.1.3 prints the Results derivation verbatim
    assert expected["Example Campaign - Results.csv"] == "\r\n".join([
        "id,status,ip,latitude,longitude,send_date,reported,modified_date,email,first_name,last_name,position",
        "hoqKYFn,Email Sent,,0,0,2018-10-08T15:56:29.535158Z,false,2018-10-08T15:56:29.535158Z,"
        "user@example.com,Example,User,",
        "VYrDwtG,Clicked Link,::1,0,0,2018-10-08T15:56:29.548722Z,false,2018-10-08T15:56:46.955281Z,"
        "foo@bar.com,Foo,Bar,",
    ])
    cover = (DATA / "Coverage Campaign - Results.csv").read_bytes().decode()
    assert ",'-\r\n" in cover and "\"'=HYPERLINK(\"\"http://x\"\")\"" in cover and "'@home" in cover


def test_sniff_claims_each_file_once(real):
    expected = {p: "gophish_results_csv" for p in DATA.glob("* - Results.csv")}
    expected |= {p: "gophish_events_csv" for p in DATA.glob("* - Events.csv")}
    expected[DATA / "coverage_campaign.json"] = "gophish_api_json"
    expected[real / "gophish" / "api_campaign_results_example.json"] = "gophish_api_json"
    assert len(expected) == 10
    for path, name in expected.items():
        head = path.read_bytes()[: textio.HEAD_BYTES]
        assert [l.name for l in registry.claimants(head)] == [name], path
    mine = [registry.get(n) for n in ("gophish_results_csv", "gophish_events_csv", "gophish_api_json")]
    for path in sorted(real.rglob("*")):
        if path.is_file() and path.parent.name != "gophish" and path.suffix != ".md":
            head = path.read_bytes()[: textio.HEAD_BYTES]
            assert not any(l.sniff(head, textio.head_text(head)) for l in mine), path


# -- the real API example ---------------------------------------------------------------------------

def test_real_api_results_and_timeline(ws, real):
    fx = fixture(real)
    [res] = ws.ingest("acme", [real / "gophish" / "api_campaign_results_example.json"])
    assert (res.format, res.hop, res.rows, res.rejects) == ("gophish_api_json", "platform", 7, 0)
    msgs = messages(ws, "stg_gophish_api_json")
    assert set(msgs) == {r["email"] for r in fx["results"]}
    created = ts(fx["timeline"][0]["time"])
    for r in fx["results"]:
        m = msgs[r["email"]]
        assert (m["campaign"], m["run"]) == (fx["name"], fx["name"])
        assert m["run_start"] == created
        assert (m["first_name"], m["last_name"]) == (r["first_name"], r["last_name"])
        assert m["platform_status"] == r["status"]
        assert m["token"] == r["id"]
        assert m["sent_at"] == ts(r["send_date"])
        assert m["message_id"] is None and m["delivered_at"] is None and m["bounced_at"] is None
    assert msgs["user@example.com"]["status"] == "sent"
    assert msgs["foo@bar.com"]["status"] == "clicked"
    inter = interactions(ws, "stg_gophish_api_json__interactions")
    events = [e for e in fx["timeline"] if e["message"] in ("Email Opened", "Clicked Link")]
    assert [(i["kind"], i["event_ts"]) for i in inter] == [("opened", ts(events[0]["time"])),
                                                          ("clicked", ts(events[1]["time"]))]
    browser = json.loads(events[1]["details"])["browser"]
    assert all(i["client_ip"] == browser["address"] == "::1" for i in inter)
    assert all(i["user_agent"] == browser["user-agent"] for i in inter)
    assert inter[1]["detail"] == "Clicked Link; rid=VYrDwtG"
    # both views reach the platform unions
    assert ws.sql("SELECT count(*) AS n FROM int_platform_messages WHERE source_format = 'gophish_api_json'")["n"][0] == 2
    n = ws.sql("SELECT count(*) AS n FROM int_platform_interactions WHERE source_format = 'gophish_api_json'")["n"][0]
    assert n == 2
    manifest = ws.manifest("acme").rows(named=True)[0]
    assert (manifest["window_start"], manifest["window_end"]) == (created, ts(fx["timeline"][-1]["time"]))


# -- Results CSV ------------------------------------------------------------------------------------

def test_results_csv_from_the_real_example(ws, real):
    fx = fixture(real)
    [res] = ws.ingest("acme", [DATA / "Example Campaign - Results.csv"])
    assert (res.format, res.rows) == ("gophish_results_csv", 2)
    msgs = messages(ws, "stg_gophish_results_csv")
    for r in fx["results"]:
        m = msgs[r["email"]]
        assert (m["campaign"], m["run"], m["token"], m["platform_status"]) == (
            "Example Campaign", "Example Campaign", r["id"], r["status"])
        assert m["sent_at"] == ts(r["send_date"])
        assert m["scheduled_at"] is None
    assert msgs["foo@bar.com"]["source_row"] == 3
    assert msgs["foo@bar.com"]["run_start"] == ts(fx["results"][0]["send_date"])
    inter = interactions(ws, "stg_gophish_results_csv__interactions")
    assert [(i["recipient"], i["kind"], i["event_ts"], i["client_ip"]) for i in inter] == [
        ("foo@bar.com", "clicked", ts(fx["results"][1]["modified_date"]), "::1")]


def test_results_csv_campaign_option(ws):
    ws.ingest("acme", [DATA / "Example Campaign - Results.csv"], options={"campaign": "Q4 phish"})
    assert ws.sql("SELECT DISTINCT campaign, run FROM stg_gophish_results_csv").rows() == [("Q4 phish", "Q4 phish")]


@pytest.mark.parametrize("name, version, sent", [
    ("Example Campaign v0.6 - Results.csv", "v0.6", True),
    ("Example Campaign v0.5 - Results.csv", "v0.5", True),
])
def test_results_csv_older_column_orders(ws, real, name, version, sent):
    fx = fixture(real)
    ws.ingest("acme", [DATA / name])
    assert ws.sql("SELECT DISTINCT header_version FROM raw_gophish_results_csv")["header_version"].to_list() == [version]
    msgs = messages(ws, "stg_gophish_results_csv")
    for r in fx["results"]:
        m = msgs[r["email"]]
        assert (m["first_name"], m["last_name"], m["token"]) == (r["first_name"], r["last_name"], r["id"])
        assert m["sent_at"] == ts(r["send_date"])
    assert msgs["foo@bar.com"]["status"] == "clicked"
    # no modified_date before v0.7: the click time is unknown
    inter = interactions(ws, "stg_gophish_results_csv__interactions")
    assert [(i["kind"], i["event_ts"]) for i in inter] == [("clicked", None)]


def test_results_csv_v03_legacy_statuses(ws):
    ws.ingest("acme", [DATA / "Legacy Campaign - Results.csv"])
    msgs = messages(ws, "stg_gophish_results_csv")
    assert {k: (v["status"], v["platform_status"], v["token"]) for k, v in msgs.items()} == {
        "user1@xxx.com": ("sent", "Email Sent", "qhbFoJm"),  # the verbatim row of gophish issue #585
        "user2@xxx.com": ("scheduled", "Queued", "Qu3u3dX"),
        "user3@xxx.com": ("sent", "Success", "Succ3ss"),
    }
    assert all(v["campaign"] == "Legacy Campaign" and v["sent_at"] is None for v in msgs.values())


COVERAGE_STATUS = {
    "scheduled.user@example.com": ("scheduled", "Scheduled"),
    "sending@example.com": ("scheduled", "Sending"),
    "retry@example.com": ("scheduled", "Retrying"),
    "error@example.com": ("failed", "Error"),
    "sent@example.com": ("sent", "Email Sent"),
    "opened@example.com": ("opened", "Email Opened"),
    "clicked@example.com": ("clicked", "Clicked Link"),
    "submitted@example.com": ("entered_data", "Submitted Data"),
    "reporter@example.com": ("sent", "Email Sent"),
}


def test_results_csv_every_status_and_formula_escaping(ws):
    cov = {r["email"].lower(): r for r in json.loads((DATA / "coverage_campaign.json").read_text())["results"]}
    ws.ingest("acme", [DATA / "Coverage Campaign - Results.csv"])
    msgs = messages(ws, "stg_gophish_results_csv")
    assert {k: (v["status"], v["platform_status"]) for k, v in msgs.items()} == COVERAGE_STATUS
    for email, m in msgs.items():
        r = cov[email]
        assert m["token"] == r["id"] and m["campaign"] == "Coverage Campaign"
        if m["status"] in ("scheduled", "failed"):
            assert (m["scheduled_at"], m["sent_at"]) == (ts(r["send_date"]), None)
        else:
            assert (m["scheduled_at"], m["sent_at"]) == (None, ts(r["send_date"]))
    raw = {r["email"].lower(): r for r in ws.sql("SELECT * FROM raw_gophish_results_csv").rows(named=True)}
    assert raw["sending@example.com"]["first_name"] == '=HYPERLINK("http://x")'
    assert raw["sending@example.com"]["position"] == "+1 desk"
    assert raw["scheduled.user@example.com"]["position"] == "-"
    assert raw["retry@example.com"]["position"] == "@home"
    assert raw["error@example.com"]["position"] == "Smith, Jr."
    assert raw["error@example.com"]["modified_ts"] == datetime(2024, 5, 1, 9, 0, 1, 123456, tzinfo=UTC)
    inter = {(i["recipient"], i["kind"]): i for i in interactions(ws, "stg_gophish_results_csv__interactions")}
    assert set(inter) == {("opened@example.com", "opened"), ("opened@example.com", "reported"),
                          ("clicked@example.com", "clicked"), ("submitted@example.com", "entered_data"),
                          ("reporter@example.com", "reported")}
    # reported after opening: modified_date is only an upper bound of both times, and says so
    opened_at = ts(cov["opened@example.com"]["modified_date"])
    assert inter[("opened@example.com", "opened")]["event_ts"] == opened_at
    assert inter[("opened@example.com", "reported")]["event_ts"] == opened_at
    assert "upper bound" in inter[("opened@example.com", "opened")]["detail"]
    assert inter[("reporter@example.com", "reported")]["detail"] == "results reported=true; time = modified_date"
    assert inter[("reporter@example.com", "reported")]["event_ts"] == ts(cov["reporter@example.com"]["modified_date"])
    assert inter[("clicked@example.com", "clicked")]["event_ts"] == ts(cov["clicked@example.com"]["modified_date"])
    assert inter[("clicked@example.com", "clicked")]["client_ip"] == "40.94.89.10"


# -- Events CSV -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, campaign, campaign_id", [
    ("Example Campaign - Events.csv", "Example Campaign", "1"),
    ("Example Campaign v0.9 - Events.csv", "Example Campaign v0.9", None),
])
def test_events_csv_from_the_real_example(ws, real, name, campaign, campaign_id):
    fx = fixture(real)
    [res] = ws.ingest("acme", [DATA / name])
    assert (res.format, res.rows) == ("gophish_events_csv", 5)
    assert ws.sql("SELECT DISTINCT campaign_id FROM raw_gophish_events_csv")["campaign_id"].to_list() == [campaign_id]
    msgs = messages(ws, "stg_gophish_events_csv")
    sent = {e["email"]: ts(e["time"]) for e in fx["timeline"] if e["message"] == "Email Sent"}
    assert set(msgs) == set(sent)
    for email, m in msgs.items():
        assert (m["campaign"], m["run"]) == (campaign, campaign)
        assert m["sent_at"] == sent[email]
        assert m["run_start"] == ts(fx["timeline"][0]["time"])
    assert (msgs["foo@bar.com"]["status"], msgs["foo@bar.com"]["token"]) == ("clicked", "VYrDwtG")
    assert (msgs["user@example.com"]["status"], msgs["user@example.com"]["token"]) == ("sent", None)
    inter = interactions(ws, "stg_gophish_events_csv__interactions")
    assert [(i["recipient"], i["kind"], i["event_ts"], i["client_ip"]) for i in inter] == [
        ("foo@bar.com", "opened", ts(fx["timeline"][3]["time"]), "::1"),
        ("foo@bar.com", "clicked", ts(fx["timeline"][4]["time"]), "::1"),
    ]


def test_events_csv_statuses_errors_order_and_redaction(ws):
    cov = json.loads((DATA / "coverage_campaign.json").read_text())
    ws.ingest("acme", [DATA / "Coverage Campaign - Events.csv"])
    msgs = messages(ws, "stg_gophish_events_csv")
    got = {k: (v["status"], v["platform_status"]) for k, v in msgs.items()}
    assert got == {
        "retry@example.com": ("scheduled", "Error Sending Email"),  # 421: GoPhish backs off and retries
        "error@example.com": ("failed", "Error Sending Email"),     # 550: Error
        "sent@example.com": ("sent", "Email Sent"),
        "opened@example.com": ("opened", "Email Opened"),
        "clicked@example.com": ("clicked", "Clicked Link"),
        "submitted@example.com": ("entered_data", "Submitted Data"),
        "reporter@example.com": ("sent", "Email Sent"),
    }
    assert msgs["retry@example.com"]["bounce_reason"] == "421 4.7.0 Try again later, closing connection."
    assert msgs["error@example.com"]["bounce_reason"] == "550 5.7.1 Relaying denied"
    assert msgs["sent@example.com"]["bounce_reason"] is None
    # the click comes first in the file; sent_at and run_start still come from the right events
    assert msgs["clicked@example.com"]["sent_at"] == datetime(2024, 5, 1, 9, 0, 4, tzinfo=UTC)
    assert msgs["clicked@example.com"]["run_start"] == datetime(2024, 5, 1, 8, 59, 58, 100000, tzinfo=UTC)
    inter = interactions(ws, "stg_gophish_events_csv__interactions")
    clicked = [(i["kind"], i["event_ts"]) for i in inter if i["recipient"] == "clicked@example.com"]
    assert clicked == [("opened", datetime(2024, 5, 1, 9, 0, 9, 800000, tzinfo=UTC)),
                       ("clicked", datetime(2024, 5, 1, 9, 0, 9, 870000, tzinfo=UTC))]
    reports = [(i["recipient"], i["event_ts"], i["client_ip"]) for i in inter if i["kind"] == "reported"]
    assert reports == [("opened@example.com", datetime(2024, 5, 1, 10, 15, tzinfo=UTC), "203.0.113.7"),
                       ("reporter@example.com", datetime(2024, 5, 1, 9, 30, tzinfo=UTC), None)]
    submitted = [i for i in inter if i["kind"] == "entered_data"][0]
    assert submitted["user_agent"].startswith("Mozilla/5.0 (iPhone")
    details = ws.sql("SELECT details FROM raw_gophish_events_csv WHERE message = 'Submitted Data'")["details"][0]
    assert "Winter2024!" not in details and "[redacted]" in details
    assert json.loads(details)["payload"]["rid"] == ["Subm1tD"]
    original = [e for e in cov["timeline"] if e["message"] == "Clicked Link"][0]["details"]
    kept = ws.sql("SELECT details FROM raw_gophish_events_csv WHERE message = 'Clicked Link' ORDER BY source_row")
    assert kept["details"][0] == original


def test_api_json_matches_the_csv_exports(ws):
    ws.ingest("acme", [DATA / "coverage_campaign.json"])
    msgs = messages(ws, "stg_gophish_api_json")
    assert {k: (v["status"], v["platform_status"]) for k, v in msgs.items()} == COVERAGE_STATUS
    assert msgs["retry@example.com"]["bounce_reason"].startswith("421 4.7.0")
    assert msgs["error@example.com"]["bounce_reason"] == "550 5.7.1 Relaying denied"
    assert msgs["clicked@example.com"]["bounce_reason"] is None
    assert all(m["campaign"] == "Coverage Campaign" for m in msgs.values())
    kinds = sorted((i["recipient"], i["kind"]) for i in interactions(ws, "stg_gophish_api_json__interactions"))
    assert kinds == [("clicked@example.com", "clicked"), ("clicked@example.com", "opened"),
                     ("opened@example.com", "opened"), ("opened@example.com", "reported"),
                     ("reporter@example.com", "reported"), ("submitted@example.com", "clicked"),
                     ("submitted@example.com", "entered_data")]


def test_api_campaign_object_gives_sender_subject_and_run_times(ws, tmp_path, real):
    fx = fixture(real)
    camp = {**fx, "launch_date": "2018-10-08T15:56:00Z", "completed_date": "0001-01-01T00:00:00Z",
            "template": {"subject": "Password expiry"}, "smtp": {"from_address": "IT Desk <IT@Phish.example>"}}
    p = tmp_path / "campaigns.json"
    p.write_text(json.dumps([camp]))
    ws.ingest("acme", [p])
    m = messages(ws, "stg_gophish_api_json")["foo@bar.com"]
    assert (m["sender"], m["subject"]) == ("it@phish.example", "Password expiry")
    assert (m["run_start"], m["run_end"]) == (datetime(2018, 10, 8, 15, 56, tzinfo=UTC), None)


# -- bad input --------------------------------------------------------------------------------------

RESULTS_HEADER = "id,status,ip,latitude,longitude,send_date,reported,modified_date,email,first_name,last_name,position"
ROW = "hoqKYFn,Email Sent,,0,0,2018-10-08T15:56:29.535158Z,false,2018-10-08T15:56:29.535158Z,user@example.com,Ex,User,"
EVENTS_HEADER = "campaign_id,email,time,message,details"
EVENT = "1,foo@bar.com,2018-10-08T15:56:29.548722Z,Email Sent,"


@pytest.mark.parametrize("fmt, text, line, fragment", [
    # a header of another generation / another export
    ("gophish_results_csv", RESULTS_HEADER.replace(",modified_date", "") + "\r\n" + ROW, 1,
     "not a GoPhish Results CSV header"),
    ("gophish_results_csv", EVENTS_HEADER + "\r\n" + EVENT, 1, "not a GoPhish Results CSV header"),
    ("gophish_events_csv", "campaign_id,email,time,message\r\n1,a@b.c,2018-10-08T15:56:29Z,Email Sent", 1,
     "not a GoPhish Events CSV header"),
    # truncated line, bad time, unknown status / message, bad details JSON
    ("gophish_results_csv", f"{RESULTS_HEADER}\r\n{ROW}\r\n{ROW.rsplit(',', 5)[0]}", 3, "expected 12 fields"),
    ("gophish_results_csv", f"{RESULTS_HEADER}\r\n{ROW}\r\n{ROW.replace('2018-10-08T15:56:29.535158Z', '10/8/2018', 1)}",
     3, "ISO 8601"),
    ("gophish_results_csv", f"{RESULTS_HEADER}\r\n{ROW}\r\n{ROW.replace('Email Sent', 'Delivered')}", 3,
     "status 'Delivered'"),
    ("gophish_results_csv", f"{RESULTS_HEADER}\r\n{ROW}\r\n{ROW.replace('false', 'maybe')}", 3, "reported"),
    ("gophish_events_csv", f"{EVENTS_HEADER}\r\n{EVENT}\r\n{EVENT.replace('Email Sent', 'Email Bounced')}", 3,
     "message 'Email Bounced'"),
    ("gophish_events_csv", f'{EVENTS_HEADER}\r\n{EVENT}\r\n1,a@b.c,2018-10-08T15:56:44Z,Email Opened,"{{""payload"":"',
     3, "not valid JSON"),
    ("gophish_events_csv", f"{EVENTS_HEADER}\r\n{EVENT}\r\n1,a@b.c,,Email Opened,", 3, "without a time"),
])
def test_bad_csv_is_refused_whole(ws, tmp_path, fmt, text, line, fragment):
    p = tmp_path / "Bad - Export.csv"
    p.write_bytes(text.encode())
    with pytest.raises(InputError) as err:
        ws.ingest("acme", [f"{p}:{fmt}"])
    assert err.value.line == line
    assert fragment in str(err.value)
    assert str(p) in str(err.value)
    assert_nothing_loaded(ws, fmt)


def test_bad_api_json_is_refused_whole(ws, tmp_path, real):
    text = (real / "gophish" / "api_campaign_results_example.json").read_text()
    cut = tmp_path / "cut.json"
    cut.write_text(text[:400])
    with pytest.raises(InputError) as err:
        ws.ingest("acme", [f"{cut}:gophish_api_json"])
    assert "not valid JSON" in str(err.value) and err.value.line is not None
    assert_nothing_loaded(ws, "gophish_api_json")

    doc = json.loads(text)
    doc["timeline"][3]["time"] = "yesterday"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    with pytest.raises(InputError) as err:
        ws.ingest("acme", [bad])
    assert err.value.line == 6 and "ISO 8601" in str(err.value)  # record 6 = timeline[3]
    assert_nothing_loaded(ws, "gophish_api_json")

    other = tmp_path / "other.json"
    other.write_text(json.dumps({"id": 1, "name": "x", "stats": {}}))
    with pytest.raises(InputError) as err:
        ws.ingest("acme", [f"{other}:gophish_api_json"])
    assert "GET /api/campaigns/:id/results" in str(err.value)
    assert_nothing_loaded(ws, "gophish_api_json")
