"""The DuckDB bulk path of every loader that has one reads each real and sample file exactly as the
Python parser does (rows, manifest, rejects), and a file with a record the bulk query cannot read
the same way falls back to the parser, so the result is the same either way."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from bulk_support import load, same

from phishtrace import ingest, registry, textio
from phishtrace.workspace import Workspace

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "fixtures" / "real"
BULK = [name for name, loader in registry.loaders().items() if hasattr(loader, "bulk")]


def claimed_files() -> list[tuple[Path, str]]:
    out = []
    for folder in (ROOT / "data" / "samples", REAL, ROOT / "tests" / "data"):
        for path in sorted(folder.rglob("*")):
            if not path.is_file() or path.suffix == ".md":
                continue
            head = path.read_bytes()[: textio.HEAD_BYTES]
            if textio.looks_binary(head):
                continue
            out += [(path, l.name) for l in registry.claimants(head) if l.name in BULK]
    return out


FILES = claimed_files()


def test_the_real_and_sample_files_reach_every_bulk_loader():
    assert {fmt for _, fmt in FILES} == set(BULK)


@pytest.mark.parametrize(("path", "fmt"), FILES, ids=[f"{p.parent.name}/{p.name}:{f}" for p, f in FILES])
def test_bulk_reads_real_and_sample_files_as_the_parser_does(path, fmt, monkeypatch):
    fast, _ = load(path, fmt, monkeypatch, python=False)
    slow, _ = load(path, fmt, monkeypatch, python=True)
    assert same(fast, slow)


def test_data_samples_take_the_bulk_path(monkeypatch):
    """The clean exports of the samples are read by DuckDB, not parse()."""
    for path, fmt in FILES:
        if "samples" in path.parts and (fmt in ("phishsim_csv", "m365_message_trace") and path.suffix != ".json"
                                        or fmt == "proofpoint_pod_json"):
            _, bulk_taken = load(path, fmt, monkeypatch, python=False)
            assert bulk_taken, path


# -- records the bulk query must not read differently ---------------------------------------------

POD_OK = {"ts": "2025-06-16T08:00:46.100000-0700", "guid": "g1", "type": "message",
          "envelope": {"from": "a@x.example", "rcpts": ["<u1@corp.example>", "u2@corp.example"]},
          "msg": {"header": {"message-id": ["<m1@X.example>"], "subject": ["Hi"]}},
          "filter": {"qid": "q1", "disposition": "quarantine", "actions": [{"module": "spam", "rule": "phish",
                     "action": "quarantine", "isFinal": True}], "quarantine": {"folder": "Phish", "rule": "phish"}},
          "msgParts": [{"urls": [{"url": "https://l.example/?rid=AbC1234"}, "https://l.example/x"]}]}
POD_LOG = {"ts": "2025-06-16T08:00:47-07:00", "sm": {"qid": "q1", "to": "<u1@corp.example>,u2@corp.example",
           "stat": "Sent (OK)", "mailer": "esmtp", "relay": "mx.corp.example"}, "data": "x"}

POD_VARIANTS = {
    "plain": [POD_OK, POD_LOG],
    "no-type": [{k: v for k, v in POD_OK.items() if k != "type"}, POD_LOG],
    "naive-ts": [{**POD_OK, "ts": "2025-06-16T08:00:46"}, POD_LOG],
    "numeric-guid": [{**POD_OK, "guid": 12345}, POD_LOG],
    "rcpts-string": [{**POD_OK, "envelope": {"from": "a@x.example", "rcpts": " u9@corp.example "}}],
    "rcpts-empty": [{**POD_OK, "envelope": {"rcpts": []}}],
    "tab-in-address": [{**POD_OK, "envelope": {"from": "a@x.example\t", "rcpts": ["u1@corp.example"]}}],
    "isFinal-1": [{**POD_OK, "filter": {**POD_OK["filter"], "actions": [{"action": "discard", "isFinal": 1}]}}],
    "actions-object": [{**POD_OK, "filter": {**POD_OK["filter"], "actions": {"action": "discard"}}}],
    "header-blank-first": [{**POD_OK, "msg": {"header": {"message-id": ["  ", "<m2@y.example>"]}}}],
    "header-number": [{**POD_OK, "msg": {"header": {"subject": [7]}}}],
    "urls-object": [{**POD_OK, "msgParts": [{"urls": {"u": 1}}]}],
    "token-encoded": [{**POD_OK, "msgParts": [{"urls": ["https://u.example/v2/url?u=https-3A__l.example_-3Frid-3DzZ9yX8w&d=1"]}]}],
    "top-level-final": [{**POD_OK, "final_action": "discard", "final_module": "spam", "final_rule": "x"}],
    "neither-kind": [POD_OK, {"ts": "2025-06-16T08:00:47Z", "note": "x"}],
    "to-list": [{**POD_LOG, "sm": {**POD_LOG["sm"], "to": ["u1@corp.example", ""]}}],
    "blank-lines": [POD_OK, None, POD_LOG],
    # a line longer than DuckDB's bulk line limit (8 MiB): a read error there, parse() reads it
    "long-line": [{**POD_OK, "msgParts": [{**POD_OK["msgParts"][0], "content": "QUJD" * (9 << 18)}]}, POD_LOG],
}


@pytest.mark.parametrize("variant", sorted(POD_VARIANTS))
def test_pod_records_read_the_same_either_way(variant, tmp_path, monkeypatch):
    path = tmp_path / "pod.json"
    path.write_text("\n".join("" if r is None else json.dumps(r) for r in POD_VARIANTS[variant]) + "\n",
                    encoding="utf-8")
    fast, taken = load(path, "proofpoint_pod_json", monkeypatch, python=False)
    slow, _ = load(path, "proofpoint_pod_json", monkeypatch, python=True)
    assert same(fast, slow)
    if variant in ("plain", "no-type", "rcpts-empty", "rcpts-string", "header-blank-first", "token-encoded",
                   "top-level-final", "to-list", "blank-lines"):
        assert taken, "a plain record must not need parse()"
    if variant in ("naive-ts", "numeric-guid", "tab-in-address", "isFinal-1", "actions-object",
                   "header-number", "urls-object", "neither-kind", "long-line"):
        # parse() reads it (or refuses it: one bad record of two is over the reject threshold)
        assert not taken, "a record the bulk query cannot read as parse() does must send the file to parse()"


def test_pod_bulk_values(tmp_path, monkeypatch):
    path = tmp_path / "pod.json"
    path.write_text("\n".join(json.dumps(r) for r in POD_VARIANTS["plain"]) + "\n", encoding="utf-8")
    with Workspace(":memory:") as ws:
        ws.ingest("c", [str(path)])
        rows = ws.sql("SELECT source_row, record_type, recipient, sender, message_id, final_action, final_source, "
                      "quarantine_folder, token, urls, sm_stat FROM raw_proofpoint_pod_json ORDER BY source_row, recipient"
                      ).rows()
    assert rows == [
        (1, "message", "u1@corp.example", "a@x.example", "<m1@X.example>", "quarantine", "actions", "Phish", "AbC1234",
         '["https://l.example/?rid=AbC1234","https://l.example/x"]', None),
        (1, "message", "u2@corp.example", "a@x.example", "<m1@X.example>", "quarantine", "actions", "Phish", "AbC1234",
         '["https://l.example/?rid=AbC1234","https://l.example/x"]', None),
        (2, "maillog", "u1@corp.example", None, None, None, None, None, None, None, "Sent (OK)"),
        (2, "maillog", "u2@corp.example", None, None, None, None, None, None, None, "Sent (OK)"),
    ]


EXPORT_HEADER = ("Campaign,Campaign Run,Run Start,Run End,First Name,Last Name,Email,Status,Scheduled At,Sent At,"
                 "Delivered At,Opened At,Phished At,Replied At,Entered Data At,Reported At,Bounced At,Bounce Reason,"
                 "Sender,Subject,Message ID")
EXPORT_ROW = ("Q3,Run 1,2025-06-16T08:00:00Z,2025-06-18T08:00:00Z,Ana,Lee,ana@corp.example,Delivered,"
              "2025-06-16T08:00:00Z,2025-06-16T08:00:45+02:00,2025-06-16T08:01:05.1234567Z,,,,,,,,"
              "n@p.example,\"Hello, you\",<m@p.example>")
EXPORT_VARIANTS = {
    "plain": [EXPORT_ROW],
    "padded": [EXPORT_ROW.replace("Delivered", " Delivered ")],
    "naive": [EXPORT_ROW.replace("2025-06-16T08:00:45+02:00", "2025-06-16T08:00:45")],
    "unknown-status": [EXPORT_ROW.replace("Delivered", "Lost")],
    "no-at": [EXPORT_ROW.replace("ana@corp.example", "ana")],
    "short-row": [EXPORT_ROW.rsplit(",", 1)[0]],
    "extra-empty-field": [EXPORT_ROW + ","],  # DuckDB's strict mode alone lets this through
    "quoted-newline": [EXPORT_ROW.replace('"Hello, you"', '"Hello,\nyou"')],
    "non-ascii": [EXPORT_ROW.replace("Ana", "Élodie\u00a0")],
    "blank-line": [EXPORT_ROW, "", EXPORT_ROW],
    # DuckDB drops the space around these quotes without an error; Python's csv keeps it
    "space-before-quote": [EXPORT_ROW.replace(',"Hello, you"', ', "Hello you"')],
    "two-quoted-parts": [EXPORT_ROW.replace('"Hello, you"', '"Hello" "you"')],
    "doubled-quotes": [EXPORT_ROW.replace('"Hello, you"', '"Re: ""Invoice"" due, now"')],
}


@pytest.mark.parametrize("variant", sorted(EXPORT_VARIANTS))
def test_export_rows_read_the_same_either_way(variant, tmp_path, monkeypatch):
    path = tmp_path / "export.csv"
    rows = EXPORT_VARIANTS[variant] * (1 if variant == "blank-line" else 200)  # rejects stay under 1% only if few
    if variant in ("naive", "unknown-status", "no-at", "short-row", "extra-empty-field"):
        rows = [EXPORT_ROW] * 199 + rows[:1]
    path.write_text(EXPORT_HEADER + "\r\n" + "\r\n".join(rows) + "\r\n", encoding="utf-8")
    fast, taken = load(path, "phishsim_csv", monkeypatch, python=False)
    slow, _ = load(path, "phishsim_csv", monkeypatch, python=True)
    assert same(fast, slow)
    assert taken is (variant in ("plain", "doubled-quotes")), "only the plain export is read by DuckDB"


ODD_BREAKS = ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


@pytest.mark.parametrize("char", ODD_BREAKS, ids=[f"U+{ord(c):04X}" for c in ODD_BREAKS])
def test_a_line_break_only_python_honours_sends_the_file_to_the_parser(char, tmp_path, monkeypatch):
    # written raw (json.dumps would escape the control characters)
    record = {**POD_OK, "msg": {"header": {"message-id": ["<m1@X.example>"], "subject": ["a@@b é"]}}}
    line = json.dumps(record, ensure_ascii=False).replace("@@", char)
    path = tmp_path / "pod.json"
    path.write_text(line + "\n" + json.dumps(POD_LOG) + "\n", encoding="utf-8")
    assert ingest.scan_file(path)[1].odd_breaks
    fast, taken = load(path, "proofpoint_pod_json", monkeypatch, python=False)
    slow, _ = load(path, "proofpoint_pod_json", monkeypatch, python=True)
    assert taken is None, "the bulk path must not be tried"
    assert same(fast, slow)


@pytest.mark.parametrize("char", ["\u2028", "\x0b", None])
def test_scan_file_facts_across_read_chunks(char, tmp_path):
    # the break straddles the 4 MiB boundary between two reads
    head = b"x" * ((1 << 22) - 1) + b"\n"
    body = (head[:-2] + (char.encode() if char else b"yy") + b"\nlast line without newline")
    path = tmp_path / "f.txt"
    path.write_bytes(body)
    digest, facts = ingest.scan_file(path)
    assert digest == hashlib.sha256(body).hexdigest()
    assert facts.lines == body.count(b"\n") + 1
    assert facts.odd_breaks is (char is not None)


# JSON DuckDB reads and orjson does not, or reads otherwise: a trailing comma, NaN, a repeated key
# (first value for DuckDB, last for orjson)
LENIENT_JSON = {
    "trailing-comma": lambda line: line[:-1] + ",}",
    "nan": lambda line: line[:-1] + ',"x":NaN}',
    "repeated-key": lambda line: '{"category":"Other",' + line[1:],
}


@pytest.mark.parametrize("variant", sorted(LENIENT_JSON))
@pytest.mark.parametrize("source", ["proofpoint_pod_json", "defender_email_events"])
def test_json_duckdb_reads_leniently_goes_to_the_parser(source, variant, tmp_path, monkeypatch):
    sample = ROOT / "data" / "samples" / "acme" / ("proofpoint_pod.json" if source == "proofpoint_pod_json"
                                                   else "defender_email_events.json")
    lines = sample.read_text(encoding="utf-8").splitlines()
    edit = LENIENT_JSON[variant]
    if variant == "repeated-key" and source == "proofpoint_pod_json":
        edit = lambda line: '{"data":"x",' + line[1:]  # noqa: E731  (a maillog record's data, twice)
    lines[0] = edit(lines[0])
    path = tmp_path / sample.name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    fast, taken = load(path, source, monkeypatch, python=False)
    slow, _ = load(path, source, monkeypatch, python=True)
    assert same(fast, slow)
    assert taken is not True, "the bulk path must not load it"


# lines of a Defender envelope file that the bulk query filters or keeps by what it staged per line
DEFENDER_LINES = {
    # blank and white-space-only lines are skipped by both readers (the bulk path wants two records first)
    "blank-lines": (lambda lines: [*lines[:2], "", "  \t", *lines[2:]], True),
    # a record of the other table is left out by both
    "other-table": (lambda lines: [lines[0].replace("AdvancedHunting-EmailEvents", "AdvancedHunting-EmailPostDeliveryEvents",
                                                    1), *lines[1:]], True),
    # a category with no properties object: parse() reads it as a plain record (no DeliveryAction: skipped),
    # the bulk query keeps it to mark it, so the file goes to parse()
    "category-without-properties": (lambda lines: [*lines[:2], '{"category":"AdvancedHunting-Other","x":1}',
                                                   *lines[2:]], False),
    "properties-null": (lambda lines: [*lines[:2], '{"category":"AdvancedHunting-Other","properties":null}',
                                       *lines[2:]], False),
}


@pytest.mark.parametrize("variant", sorted(DEFENDER_LINES))
def test_defender_lines_the_bulk_filter_decides_read_the_same_either_way(variant, tmp_path, monkeypatch):
    sample = ROOT / "data" / "samples" / "acme" / "defender_email_events.json"
    edit, bulk = DEFENDER_LINES[variant]
    lines = sample.read_text(encoding="utf-8").splitlines()
    assert "AdvancedHunting-EmailEvents" in lines[0]
    path = tmp_path / sample.name
    path.write_text("\n".join(edit(lines)) + "\n", encoding="utf-8")
    fast, taken = load(path, "defender_email_events", monkeypatch, python=False)
    slow, _ = load(path, "defender_email_events", monkeypatch, python=True)
    assert same(fast, slow)
    assert taken is bulk
    if variant == "other-table":
        assert fast[0].height == len(lines) - 1
