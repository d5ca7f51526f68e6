"""The DuckDB bulk path of the Exchange message tracking log reads every kind of row as the Python
parser does, recipient lists included, and sends any row it cannot read the same way to the parser."""

from __future__ import annotations

from pathlib import Path

import pytest

from bulk_support import load, same

from phishtrace.loaders.exchange_msgtrk import FIELDS_30

DATA = Path(__file__).parent / "data" / "exchange_msgtrk"
HEADER = ["#Software: Microsoft Exchange Server", "#Version: 15.02.1258.012", "#Log-type: Message Tracking Log",
          "#Date: 2024-03-05T09:00:00.000Z", "#Fields: " + ",".join(FIELDS_30)]


def row(recipients: str = "bob@contoso.com", status: str = "250 2.1.5 Recipient OK", when: str = "2024-03-05T09:12:45.130Z",
        event: str = "DELIVER") -> str:
    values = {f: "" for f in FIELDS_30}
    values.update({"date-time": when, "server-hostname": "EXCH01", "source": "STOREDRIVER", "event-id": event,
                   "internal-message-id": "1001", "message-id": "<sim-1@phish-sim.example>",
                   "network-message-id": "5f1c2d3e-4b5a-4c6d-8e7f-08dc3cf0a001", "recipient-address": recipients,
                   "recipient-status": status, "total-bytes": "48211", "recipient-count": "1",
                   "message-subject": "Action required, today", "sender-address": "it@phish-sim.example",
                   "directionality": "Incoming", "transport-traffic-type": "Email", "schema-version": "15.02.1258.012"})
    return ",".join(f'"{v}"' if "," in v or "\n" in v else v for v in values.values())


# (rows, read by DuckDB: True, by parse(): False, refused by parse(): None)
VARIANTS = {
    "plain": ([row()], True),
    "recipients-by-semicolon": ([row("a@c.example;b@c.example", "250 2.1.5 OK;550 5.1.1 RESOLVER.ADR.RecipNotFound")], True),
    "recipients-by-reply": ([row("a@c.example; b@c.example", "550 5.1.1 RESOLVER.ADR.RecipNotFound; not found;250 2.1.5 OK")], True),
    "recipients-by-to-cc": ([row("a@c.example;b@c.example", "To;x; cc")], True),
    "recipients-unpaired": ([row("a@c.example;b@c.example;c@c.example", "250 OK;250 OK")], True),
    "recipients-empty-parts": ([row(" ;a@c.example; ;", " 250 OK ")], True),
    "no-recipient": ([row("", "")], True),
    "reply-split-non-ascii": ([row("a@c.example;b@c.example", "550 nicht gefunden; für;250 OK")], False),
    "tab-in-recipient": ([row("a@c.example\t;b@c.example", "250 OK;250 OK")], False),
    "naive-time": ([row(when="2024-03-05T09:12:45.130")], True),
    "offset-time": ([row(when="2024-03-05T10:12:45+01:00")], True),
    "bad-time": ([row()] * 200 + [row(when="05/03/2024 09:12")], False),  # a reject (under 1% of rows)
    "short-row": ([row(), row().rsplit(",", 1)[0]], None),  # parse()'s error
    "second-header": ([row(), HEADER[-1], row()], False),
    "blank-line": ([row(), "", row()], False),
    "quoted-newline": ([row(status="250 2.1.5\nOK")], False),
    "space-before-quote": ([row().replace(',"Action required, today"', ', "Action required today"')], False),
    "doubled-quotes": ([row().replace('"Action required, today"', '"Re: ""Invoice"" due, now"')], True),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_msgtrk_rows_read_the_same_either_way(variant, tmp_path, monkeypatch):
    rows, bulk = VARIANTS[variant]
    path = tmp_path / "MSGTRK2024030509-1.LOG"
    path.write_bytes(("\ufeff" + "\r\n".join(HEADER + rows * 3) + "\r\n").encode())
    fast, taken = load(path, "exchange_msgtrk", monkeypatch, python=False)
    slow, _ = load(path, "exchange_msgtrk", monkeypatch, python=True)
    assert same(fast, slow)
    assert taken is bulk


def test_multi_recipient_rows_split_with_their_own_status(tmp_path, monkeypatch):
    path = tmp_path / "MSGTRK.LOG"
    status = "550 5.1.1 RESOLVER.ADR.RecipNotFound; not found;250 2.1.5 OK"
    path.write_text("\n".join(HEADER + [row("a@c.example;b@c.example", status)]) + "\n", encoding="utf-8")
    (rows, manifest, _), taken = load(path, "exchange_msgtrk", monkeypatch, python=False)
    assert taken
    assert rows.select("source_row", "recipient_address", "recipient_status", "fields_layout").rows() == [
        (6, "a@c.example", "550 5.1.1 RESOLVER.ADR.RecipNotFound; not found", "30"),
        (6, "b@c.example", "250 2.1.5 OK", "30")]
    assert manifest["rows_loaded"].to_list() == [2]


@pytest.mark.parametrize("fields", ["30", "27"])
def test_header_less_log_with_fields_option(fields, monkeypatch):
    path = DATA.parent.parent.parent.parent / "shared" / "fixtures" / "real" / "exchange_msgtrk" / \
        "elastic_exchange_server_test-messagetracking.log"
    fast, taken = load(path, "exchange_msgtrk", monkeypatch, python=False, options={"fields": fields})
    slow, _ = load(path, "exchange_msgtrk", monkeypatch, python=True, options={"fields": fields})
    assert same(fast, slow)
    # a row of another field count goes to the parser, and its error
    assert taken is (True if fields == "30" else None)


def test_the_sample_logs_are_read_by_duckdb(monkeypatch):
    for path in sorted(DATA.glob("*.log")):
        _, taken = load(path, "exchange_msgtrk", monkeypatch, python=False)
        assert taken, path
