"""The DuckDB bulk paths of gmail_bigquery_json (nested NDJSON records, REST rows one per line) and
gmail_els_csv read every kind of row as the Python parser does, and send any row they cannot read
the same way to the parser (or leave a file they do not read to it)."""

from __future__ import annotations

import copy
import itertools
import json
import shutil
from pathlib import Path

import bulk_support
import pytest

from bulk_support import load, same

from phishtrace import ingest
from phishtrace.workspace import Workspace

DATA = Path(__file__).parent / "data" / "gmail"
REAL = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "real" / "gmail"
REAL_ROW = REAL / "elastic_google_workspace_test-gmail.first-row.json"
BQ, ELS = "gmail_bigquery_json", "gmail_els_csv"
DROP = object()


@pytest.fixture
def both_ways(monkeypatch, _template_db, tmp_path):
    """both_ways(path, format, tz=None) -> (whether the bulk path and parse() give the same rows, manifest
    and rejects, whether the bulk path loaded the file), by bulk_support.load(); each load goes to a
    fresh copy of the session's template workspace, with --tz, and skips the refresh of the views (a
    workspace built in memory and the refresh take 2 s a load)."""
    count, zone = itertools.count(), [None]

    def fresh(_name: str) -> Workspace:
        db = tmp_path / f"ws{next(count)}.duckdb"
        shutil.copyfile(_template_db, db)
        ws = Workspace(str(db))
        ws.ingest = lambda customer, specs, options=None: [
            ingest.ingest_file(ws.con, customer, spec, tz=zone[0], options=options) for spec in specs]
        return ws

    monkeypatch.setattr(bulk_support, "Workspace", fresh)

    def run(path: Path, fmt: str, tz: str | None = None) -> tuple[bool, bool | None]:
        zone[0] = tz
        fast, taken = load(path, fmt, monkeypatch, python=False)
        slow, _ = load(path, fmt, monkeypatch, python=True)
        return same(fast, slow), taken

    return run


def changed(base: dict, changes: dict) -> dict:
    """A deep copy of `base` with values set (or removed: DROP) at key paths."""
    out = copy.deepcopy(base)
    for path, value in changes.items():
        obj = out
        for key in path[:-1]:
            obj = obj[key]
        if value is DROP:
            del obj[path[-1]]
        else:
            obj[path[-1]] = value
    return out


# -- gmail_bigquery_json: nested records, one a line ------------------------------------------------

REC = {
    "event_info": {"timestamp_usec": "1772442001250001", "elapsed_time_usec": "1200", "mail_event_type": "0",
                   "success": True},
    "message_info": {
        "action_type": "68", "rfc2822_message_id": "<sim-0001@sim-phish.example.net>",
        "subject": "Action required: “password” expiry é \\ / \u2603",
        "source": {"address": "bounce@sim-phish.example.net", "from_header_address": "it@sim-phish.example.net",
                   "service": "smtp-inbound"},
        "destination": [{"address": "Alice@customer.example", "rcpt_response": "1", "service": "gmail-ui"},
                        {"address": "bob@customer.example", "service": "gmail-spam"}],
        "is_spam": False, "spam_info": {"disposition": "1", "classification_reason": "3"},
        "connection_info": {"smtp_reply_code": "250", "client_ip": "192.0.2.1"}, "description": "250 2.0.0 OK",
        "triggered_rule_info": [{"rule_name": "Block sim"}, {"rule_name": ""}, {"rule_type": "1"}, "x",
                                {"rule_name": "Tag|pipe"}],
        "post_delivery_info": {"action_type": "2", "interaction": {"link_url": "https://l.example/?rid=Ab12Cd3"}},
    },
}


def rec(**changes) -> str:
    """One NDJSON line: REC with changes given as `event_info__success=...` (DROP removes)."""
    return json.dumps(changed(REC, {tuple(k.split("__")): v for k, v in changes.items()}), ensure_ascii=False)


def many(bad: str) -> list[str]:
    """200 good lines and a bad one: a reject stays under parse()'s 1% limit."""
    return [rec(event_info__timestamp_usec=str(1772442001250000 + i)) for i in range(200)] + [bad]


REPEATED_KEY = rec().replace('"mail_event_type": "0"', '"mail_event_type": "0", "mail_event_type": "5"')
# (lines, read by DuckDB: True, by parse(): False, not tried or refused by parse(): None)
NDJSON_VARIANTS = {
    "plain": ([rec(), rec(event_info__timestamp_usec="0")], True),
    "integers-as-numbers": ([rec(event_info__timestamp_usec=1772442001250000, event_info__mail_event_type=2,
                                 message_info__connection_info__smtp_reply_code=-250)], True),
    "booleans-as-text": ([rec(event_info__success="true", message_info__is_spam="false")], True),
    "no-destination": ([rec(message_info__destination=DROP)], True),
    "empty-destinations": ([rec(message_info__destination=[])], True),
    "null-destinations": ([rec(message_info__destination=None)], True),
    "odd-destination-items": ([rec(message_info__destination=[None, "x", 5, {"address": "a@c.example"}, {}])], True),
    "no-message-info": ([rec(message_info=DROP)], True),
    "no-rules": ([rec(message_info__triggered_rule_info=None)], True),
    "source-not-an-object": ([rec(message_info__source="x")], True),
    "empty-and-blank-values": ([rec(message_info__subject="", message_info__description=" \t")], True),
    "escaped-text": ([json.dumps(changed(REC, {("message_info", "subject"): "é\n\t\"😀\u2028"}))], True),
    "bom-crlf-blank-lines": (["\ufeff" + rec(), "", "  \t\u00a0", rec(), ""], True),
    "unused-odd-numbers": ([rec(extra=[18446744073709551616, 1.5, -0.0, 1e30, {"deep": [[[[]]]]}])], True),
    "float": ([rec(message_info__is_spam=1.5)], False),
    "object": ([rec(message_info__subject={"a": 1})], False),
    "list": ([rec(message_info__description=["a"])], False),
    "big-integer": ([rec(message_info__action_type=123456789012345678901)], False),
    "usec-17-digits": ([rec(event_info__timestamp_usec="17724420012500000")], False),
    "usec-padded": ([rec(event_info__timestamp_usec=" 1772442001250000")], False),
    "usec-negative": ([rec(event_info__timestamp_usec="-5")], False),
    "usec-boolean": ([rec(event_info__timestamp_usec=True)], False),
    "usec-missing": (many(rec(event_info__timestamp_usec=DROP)), False),
    "usec-not-a-number": (many(rec(event_info__timestamp_usec="yesterday")), False),
    "trailing-comma": (many(rec()[:-1] + ', }'), False),
    "nan": (many(rec()[:-1] + ', "x": NaN}'), False),
    "infinite-number": (many(rec()[:-1] + ', "x": 1e999}'), False),
    "too-deep": (many(rec()[:-1] + ', "x": ' + "[" * 1100 + "]" * 1100 + "}"), False),
    "invalid-json": (many(rec()[:-1]), False),
    "nul-escape": ([rec(message_info__subject="a\u0000b")], False),
    "repeated-key": ([REPEATED_KEY], False),
    "repeated-key-in-destination": ([rec().replace('"service": "gmail-spam"', '"service": "a", "service": "b"')],
                                    False),
    "null-message-info": ([rec(message_info=None)], False),
    "destinations-object": ([rec(message_info__destination={"address": "a@c.example"})], False),
    "rules-text": ([rec(message_info__triggered_rule_info="abc")], False),
    "workspace-activity-record": (many(json.dumps({"record_type": "gmail", "time_usec": "1"})), False),
    "not-an-object": (many("[1, 2]"), False),
    "rest-row-among-records": ([rec(), REAL_ROW.read_text().strip()], False),
    "rule-name-number": ([rec(message_info__triggered_rule_info=[{"rule_name": 5}])], None),  # parse() fails
    "message-info-text": ([rec(message_info="x")], None),
    "json-array": (["[" + rec() + ", " + rec() + "]"], None),
    "pretty-printed": (json.dumps(REC, indent=1).splitlines(), None),
}


@pytest.mark.parametrize("variant", sorted(NDJSON_VARIANTS))
def test_ndjson_records_read_the_same_either_way(variant, tmp_path, both_ways):
    lines, bulk = NDJSON_VARIANTS[variant]
    path = tmp_path / "gmail.ndjson"
    newline = "\r\n" if variant == "bom-crlf-blank-lines" else "\n"
    path.write_text(newline.join(lines) + newline, encoding="utf-8", newline="")
    agree, taken = both_ways(path, BQ)
    assert agree
    assert taken is bulk


def test_ndjson_values_from_duckdb(tmp_path, monkeypatch):
    path = tmp_path / "gmail.ndjson"
    path.write_text(rec() + "\n" + rec(message_info__destination=DROP) + "\n", encoding="utf-8")
    (rows, manifest, _), taken = load(path, BQ, monkeypatch, python=False)
    assert taken
    got = rows.select("source_row", "event_ts", "timestamp_usec", "success", "is_spam", "recipient",
                      "destination_service", "rcpt_response", "triggered_rules", "link_url").rows()
    ts, rules = got[0][1], "Block sim|Tag|pipe"
    assert (ts.isoformat(), ts.microsecond) == ("2026-03-02T09:00:01.250001+00:00", 250001)
    assert got == [
        (1, ts, "1772442001250001", "true", "false", "Alice@customer.example", "gmail-ui", "1", rules,
         "https://l.example/?rid=Ab12Cd3"),
        (1, ts, "1772442001250001", "true", "false", "bob@customer.example", "gmail-spam", None, rules,
         "https://l.example/?rid=Ab12Cd3"),
        (2, ts, "1772442001250001", "true", "false", None, None, None, rules, "https://l.example/?rid=Ab12Cd3"),
    ]
    assert manifest["rows_loaded"].to_list() == [3]


# -- gmail_bigquery_json: BigQuery REST rows, one a line, with their schema --------------------------

REST = json.loads(REAL_ROW.read_text())


def rest(changes: dict | None = None, schema: bool = True) -> str:
    """One REST line: the real row with changes at key paths of the row ('f' / 'v' / index keys)."""
    obj = changed(REST, {("row", *k): v for k, v in (changes or {}).items()})
    if not schema:
        del obj["schema"]
    return json.dumps(obj, separators=(",", ":"))


def rest_many(bad: str) -> list[str]:
    return [rest()] * 200 + [bad]


def cell(*names: str) -> tuple:
    """The key path, in a REST row, of the value of the cell named by field names down the schema."""
    fields, path = REST["schema"]["fields"], ()
    for name in names:
        i = next(i for i, f in enumerate(fields) if f["name"] == name)
        path += ("f", i, "v")
        fields = fields[i].get("fields") or []
    return path


USEC, SPAM, DEST = cell("event_info", "timestamp_usec"), cell("message_info", "is_spam"), cell("message_info", "destination")
ATTACHMENT = cell("message_info", "attachment")
DESTINATIONS = REST["row"]
for key in DEST:
    DESTINATIONS = DESTINATIONS[key]
OTHER_SCHEMA = json.loads(rest())
OTHER_SCHEMA["schema"]["fields"][0]["fields"][0]["name"] = "client_kind"
REST_VARIANTS = {
    "plain": ([rest(), rest()], True),
    "schema-on-the-first-line-only": ([rest(), rest(schema=False), rest(schema=False)], True),

    "null-record": ([rest({cell("message_info", "connection_info"): None, USEC: "1746430039000000"})], True),
    "null-destination-item": ([rest({DEST: [None, *DESTINATIONS]})], True),
    "no-destination": ([rest({DEST: []})], True),
    "destination-records-null": ([rest({DEST: [{"v": None}, {}]})], True),
    "scalars-of-other-types": ([rest({SPAM: False, USEC: 1746430039747736})], True),
    "another-schema-later": ([rest(), json.dumps(OTHER_SCHEMA)], False),
    "schema-first": ([json.dumps({"schema": REST["schema"], "row": REST["row"]}, separators=(",", ":"))], None),
    "blanks-between-keys": ([rest(), rest().replace('"schema":', ' "schema" : ')], False),
    "cell-not-an-object": ([rest({cell("message_info", "connection_info", "smtp_reply_code")[:-1]: "250"})], False),
    "repeated-row-key": ([rest(), rest().replace('{"row":', '{"row":{"f":[]},"row":', 1)], False),
    "short-record": (rest_many(rest({cell("message_info", "source") + ("f",): [{"v": None}]})), False),
    "repeated-not-a-list": (rest_many(rest({ATTACHMENT: "x"})), False),
    "repeated-item-not-a-cell": (rest_many(rest({ATTACHMENT: ["x"]})), False),
    "row-null": (rest_many(json.dumps({"row": None, "schema": REST["schema"]})), False),
    "repeated-v-key": ([rest().replace('{"v":"gmail-ui"}', '{"v":"gmail-ui","v":"x"}')], False),
    "float-cell": ([rest({SPAM: 1.0})], False),
    "nested-record-among-rows": ([rest(), rec()], False),
    "no-schema": ([rest(schema=False)], None),  # parse() refuses it
    "query-response": ([json.dumps({"schema": REST["schema"], "rows": [REST["row"]]})], None),
}


@pytest.mark.parametrize("variant", sorted(REST_VARIANTS))
def test_rest_rows_read_the_same_either_way(variant, tmp_path, both_ways):
    lines, bulk = REST_VARIANTS[variant]
    path = tmp_path / "gmail.json"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    agree, taken = both_ways(path, BQ)
    assert agree
    assert taken is bulk


# -- gmail_els_csv ------------------------------------------------------------------------------------

HEADER = ("Message ID,Start date,End date,Sender,Message size,Subject,Direction,Attachments,Recipient address,"
          "Event target,Delivery status,Post-delivery status")


def els(when: str = "2026-03-05T09:15:04+01:00", rcpt: str = "alice@customer.example",
        status: str = "Delivered to Gmail inbox", subject: str = "Action required", target: str = "GMAIL_INBOX") -> str:
    return (f"<sim-0101@sim-phish.example.net>,{when},2026-03-05T09:15:05+01:00,it@sim-phish.example.net,4012,"
            f"{subject},Received,0,{rcpt},{target},{status},")


def els_many(bad: str) -> list[str]:
    return [els()] * 200 + [bad]


# (header, rows, --tz, read by DuckDB: True, by parse(): False, refused by parse(): None)
ELS_VARIANTS = {
    "plain": (HEADER, [els(), els(status="", target="", subject="")], None, True),
    "utc-suffix": (HEADER, [els("2026-03-05 09:15:04 UTC"), els("2026-03-05T09:15:04.25GMT")], None, True),
    "gmt-offset-suffix": (HEADER, [els("2026-03-05 09:15:04 GMT+02:00"), els("2026-03-05 09:15:04GMT-05:30")],
                          None, True),
    "us-with-suffix": (HEADER, [els("3/5/2026 9:15:04 PM UTC"), els("12/31/2026 12:30:00 AM GMT+01:00")], None, True),
    "offsets": (HEADER, [els("2026-03-05T09:15:04.1234567Z"), els("2026-03-05 09:15:04-0330")], None, True),
    "padded-time": (HEADER, [els(" 2026-03-05T09:15:04Z  ")], None, True),
    "recipient-list": (HEADER, [els(rcpt='"a@c.example; B@c.example,, c@c.example ;"'), els(rcpt=" ; ")], None, True),
    "no-recipient": (HEADER, [els(rcpt="")], None, True),
    "quoted-fields": (HEADER, [els(subject='"Hello, ""you"""', status='" Delivered "')], None, True),
    "naive-with-fixed-tz": (HEADER, [els("2026-03-05 09:15:04"), els("3/5/2026 9:15:04 AM")], "+02:00", True),
    "naive-with-negative-tz": (HEADER, [els("2026-03-05T09:15:04.5")], "-03:30", True),
    "naive-with-utc-tz": (HEADER, [els("2026-03-05 09:15:04")], "UTC", True),
    "zoned-with-named-tz": (HEADER, [els()], "Europe/Paris", True),
    "repeated-column": (HEADER + ",Subject", [els() + ",Second subject"], None, True),
    "other-status-columns": ("Message ID,Date,Recipient address,Status,Event status,Details,Sender",
                             ["<m@x>,2026-03-05T09:15:04Z,a@c.example,Bounced,Delivered,550 no,s@x"], None, True),
    "naive-with-named-tz": (HEADER, [els("2026-03-05 09:15:04")], "Europe/Paris", False),
    "lower-case-utc": (HEADER, [els("2026-03-05 09:15:04 utc")], None, False),
    "no-seconds": (HEADER, [els("2026-03-05T09:15+01:00")], None, False),
    "space-before-offset": (HEADER, [els("2026-03-05T09:15:04 +01:00")], None, False),
    "nbsp-around-time": (HEADER, [els("\u3000 2026-03-05T09:15:04Z\u00a0")], None, True),  # trim() strips Zs
    "tab-after-time": (HEADER, [els("2026-03-05T09:15:04Z\t")], None, False),
    "tab-in-recipients": (HEADER, [els(rcpt="a@c.example\t;b@c.example")], None, False),
    "bad-time": (HEADER, els_many(els("yesterday")), None, False),
    "impossible-date": (HEADER, els_many(els("2026-02-30T09:15:04Z")), None, False),
    "us-hour-zero": (HEADER, els_many(els("3/5/2026 0:15:04 AM UTC")), None, False),
    "empty-time": (HEADER, els_many(els("")), None, False),
    "short-row": (HEADER, els_many(els().rsplit(",", 1)[0]), None, False),
    "truncated-row": (HEADER, els_many(els()[:60]), None, False),
    "blank-line": (HEADER, [els(), "", els()], None, False),
    "quoted-newline": (HEADER, [els(subject='"Hello\nyou"')], None, False),
    "space-before-quote": (HEADER, [els(subject=' "Hello you"')], None, False),  # DuckDB drops the space
    "space-after-quote": (HEADER, [els(subject='"Hello, you"  ')], None, False),
    "quote-inside-field": (HEADER, [els(subject='Hello"you"', rcpt=' a@c.example')], None, True),
    "naive-without-tz": (HEADER, [els("2026-03-05 09:15:04")], None, None),
    "no-time-column": ("Message ID,Recipient address,Event target", ["<m@x>,a@c.example,GMAIL_INBOX"], None, None),
}


@pytest.mark.parametrize("variant", sorted(ELS_VARIANTS))
def test_els_rows_read_the_same_either_way(variant, tmp_path, both_ways):
    header, rows, tz, bulk = ELS_VARIANTS[variant]
    path = tmp_path / "els.csv"
    path.write_text("\ufeff" + "\r\n".join([header, *rows]) + "\r\n", encoding="utf-8", newline="")
    agree, taken = both_ways(path, ELS, tz)
    assert agree
    assert taken is bulk


# -- the samples and the real fixture -------------------------------------------------------------------

@pytest.mark.parametrize(("name", "fmt", "bulk"), [
    ("bigquery_export.ndjson", BQ, True),
    ("els_export.csv", ELS, True),
    ("bq_query_prettyjson.json", BQ, None),  # one document: parse() reads it
    ("rest_query_response.json", BQ, None),
])
def test_the_samples_take_the_bulk_path(name, fmt, bulk, both_ways):
    agree, taken = both_ways(DATA / name, fmt)
    assert agree
    assert taken is bulk


def test_the_real_rest_row_takes_the_bulk_path(real, both_ways):
    agree, taken = both_ways(real / "gmail" / REAL_ROW.name, BQ)
    assert agree
    assert taken
