"""phishtrace.samples.bulk writes files the loaders claim and read, and DuckDB's bulk path of the
loaders gives exactly what their Python parsers give (rows, rejects, errors)."""

from __future__ import annotations

import csv
import io
import sys
from datetime import datetime, timezone
from pathlib import Path

import polars as pl
import pytest
from bulk_support import load, same

import duckdb

from phishtrace import ingest, registry, textio
from phishtrace.loaders import _bulk
from phishtrace.errors import InputError
from phishtrace.workspace import Workspace

pytest.importorskip("numpy")

from phishtrace.samples.bulk import write_bulk  # noqa: E402


@pytest.fixture(scope="module")
def bulk(tmp_path_factory):
    return write_bulk(tmp_path_factory.mktemp("bulk"), events=2000, recipients=200, seed=7)


def test_each_file_is_claimed_by_its_loader_only(bulk):
    for fmt, path in bulk.files.items():
        head = path.read_bytes()[: textio.HEAD_BYTES]
        assert [l.name for l in registry.claimants(head)] == [fmt], path


def test_event_counts_and_outcomes_match_the_plan(bulk):
    with Workspace(":memory:") as ws:
        results = ws.ingest("bulkco", [str(p) for p in bulk.files.values()])
        loaded = {r.format: r.rows for r in results}
        assert all(r.rejects == 0 for r in results)
        for fmt, n in bulk.events.items():
            assert loaded[fmt] == n
        assert sum(bulk.events.values()) == 2000
        got = ws.outcomes("bulkco").select("recipient", "outcome")
    expected = pl.read_csv(bulk.files["phishsim_csv"].parent / "expected.csv")
    both = expected.join(got, on="recipient", how="full", coalesce=True)
    assert both.height == 200
    assert both.filter(pl.col("expected").ne_missing(pl.col("outcome"))).height == 0
    assert set(expected["expected"]) >= {"delivered", "interacted", "filter_quarantined", "server_junked"}


def test_trace_rows_read_as_written(bulk):
    path = bulk.files["m365_message_trace"]
    with path.open(encoding="utf-8", newline="") as fh:
        lines = list(csv.reader(fh))
    header, row = lines[1], lines[2]
    rec = dict(zip(header, row))
    with Workspace(":memory:") as ws:
        ws.ingest("c", [str(path)])
        got = ws.sql("SELECT * FROM raw_m365_message_trace WHERE source_row = 3").row(0, named=True)
    received = datetime.strptime(rec["Received"], "%m/%d/%Y %I:%M:%S %p").replace(tzinfo=timezone.utc)
    assert got["event_ts"] == received
    assert got["recipient_address"] == rec["RecipientAddress"]
    assert got["message_id"] == rec["MessageId"]
    assert got["status"] == rec["Status"]
    assert got["to_ip"] is None  # written empty
    assert got["extra"] == ('{"PSComputerName": "outlook.office365.com", "RunspaceId": "%s", '
                            '"PSShowComputerName": "False"}' % rec["RunspaceId"])


@pytest.mark.parametrize("fmt", ["m365_message_trace", "defender_email_events", "phishsim_csv", "proofpoint_pod_json"])
def test_bulk_path_equals_python_parser(bulk, fmt, monkeypatch):
    fast, taken = load(bulk.files[fmt], fmt, monkeypatch, python=False)
    slow, _ = load(bulk.files[fmt], fmt, monkeypatch, python=True)
    assert taken, "the bulk path fell back to parse()"
    assert fast[0].height == bulk.events.get(fmt, bulk.recipients)
    assert same(fast, slow)


def _with_bad_received(src, dst, lines: list[int]) -> None:
    text = src.read_bytes().decode("utf-8").split("\r\n")
    for n in lines:
        cells = text[n - 1].split('","')
        cells[5] = "31/31/2025 9:99:00 PM"
        text[n - 1] = '","'.join(cells)
    dst.write_bytes("\r\n".join(text).encode("utf-8"))


def test_a_bad_timestamp_is_a_reject_named_by_line(bulk, tmp_path):
    bad = tmp_path / "trace.csv"
    _with_bad_received(bulk.files["m365_message_trace"], bad, [10])
    with Workspace(":memory:") as ws:
        (result,) = ws.ingest("c", [str(bad)])
        assert (result.rows, result.rejects) == (bulk.events["m365_message_trace"] - 1, 1)
        rej = ws.sql("SELECT line, reason FROM load_rejects").row(0, named=True)
        assert rej["line"] == 10 and "Received" in rej["reason"]
        assert ws.sql("SELECT count(*) AS n FROM raw_m365_message_trace WHERE source_row = 10")["n"][0] == 0


@pytest.mark.parametrize("brk", ["\n", "\r"], ids=["LF", "CR"])
def test_a_trace_record_over_several_lines_is_read_by_the_parser(bulk, tmp_path, monkeypatch, brk):
    text = bulk.files["m365_message_trace"].read_bytes().decode("utf-8").split("\r\n")
    cells = text[9].split('","')
    cells[8] = cells[8] + brk + "continued"  # the Subject field, quoted
    text[9] = '","'.join(cells)
    path = tmp_path / "trace.csv"
    path.write_bytes("\r\n".join(text).encode("utf-8"))
    fast, taken = load(path, "m365_message_trace", monkeypatch, python=False)
    slow, _ = load(path, "m365_message_trace", monkeypatch, python=True)
    assert taken is False, "a record over several lines must send the file to parse()"
    assert same(fast, slow)


def test_too_many_bad_rows_fail_the_file_and_load_nothing(bulk, tmp_path):
    bad = tmp_path / "trace.csv"
    _with_bad_received(bulk.files["m365_message_trace"], bad, list(range(5, 40)))
    with Workspace(":memory:") as ws:
        with pytest.raises(InputError) as err:
            ws.ingest("c", [str(bad)])
        assert str(err.value).startswith(f"{bad}:5: bad Received timestamp")
        assert ws.sql("SELECT count(*) AS n FROM raw_m365_message_trace")["n"][0] == 0
        assert ws.sql("SELECT count(*) AS n FROM load_manifest")["n"][0] == 0


@pytest.mark.parametrize("phase", ["reading", "loading"])
def test_out_of_memory_in_the_bulk_path_is_a_clear_error_not_a_python_fallback(bulk, monkeypatch, phase):
    """parse() holds a file's rows in Python: when DuckDB runs out of memory (reading the file into the
    temporary table, or inserting it), falling back to it would need far more, so the load stops with
    one line naming the file and the limit, and leaves nothing behind."""
    path = bulk.files["proofpoint_pod_json"]
    parsed = []
    monkeypatch.setattr(ingest, "parse_file", lambda *a: parsed.append(a) or pytest.fail("fell back to parse()"))

    class Exhausted:
        def __init__(self, con, path, what):
            self.what = what

        def __enter__(self):
            if self.what == phase:
                raise duckdb.OutOfMemoryException("Out of Memory Error: failed to allocate data of size 8.0 MiB")

        def __exit__(self, *a):
            return False

    monkeypatch.setattr(ingest, "_progress", Exhausted)
    with Workspace(":memory:") as ws:
        with pytest.raises(InputError) as err:
            ws.ingest("c", [str(path)])
        assert str(err.value).startswith(f"{path}: DuckDB ran out of memory")
        assert "PHISHTRACE_MEMORY_LIMIT" in str(err.value)
        assert ws.sql("SELECT count(*) AS n FROM load_manifest")["n"][0] == 0
        assert ws.sql("SELECT count(*) AS n FROM raw_proofpoint_pod_json")["n"][0] == 0
        assert ws.sql("SELECT count(*) AS n FROM duckdb_tables() WHERE table_name = ?",
                      [_bulk.SOURCE_TABLE])["n"][0] == 0
    assert not parsed


@pytest.mark.parametrize("shape", ["lines", "csv"])
def test_rows_read_in_parallel_are_numbered_by_their_place_in_the_file(tmp_path, shape):
    # large enough for several threads to read parts of the file at once
    path = tmp_path / f"big.{shape}"
    rows = 400_000
    with path.open("w", encoding="utf-8", newline="") as fh:
        if shape == "csv":
            fh.write("i,pad\r\n")
        for i in range(1, rows + 1):
            fh.write(f'{{"i":{i},"pad":"{"x" * 80}"}}\n' if shape == "lines" else f"{i},{'y' * 80}\r\n")
    assert path.stat().st_size > 32 << 20
    reader = (_bulk.Bulk(reader=_bulk.lines_reader(), reader_params=[str(path)], select="") if shape == "lines"
              else _bulk.Bulk(reader=_bulk.csv_reader(2), reader_params=[str(path), 1], select=""))
    value = "CAST(json_extract(line, '$.i') AS BIGINT)" if shape == "lines" else "CAST(c0 AS BIGINT)"
    con = duckdb.connect(str(tmp_path / "order.duckdb"))
    con.execute("SET threads = 4")
    assert _bulk.stage(con, reader) == rows
    count, misplaced = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE n <> {value}) FROM {_bulk.numbered()}").fetchall()[0]
    con.close()
    assert (count, misplaced) == (rows, 0)


def test_original_records_are_stored_with_zstd(bulk, tmp_path):
    db = tmp_path / "ws.duckdb"
    with Workspace(str(db)) as ws:
        ws.ingest("c", [str(bulk.files["proofpoint_pod_json"])])
        ws.con.execute("CHECKPOINT")
        used = {c for (c,) in ws.con.execute(
            "SELECT DISTINCT compression FROM pragma_storage_info('raw_proofpoint_pod_json') "
            "WHERE column_name = 'record' AND segment_type <> 'VALIDITY'").fetchall()}
    assert used == {"ZSTD"}


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_large_file_shows_progress_on_a_terminal(bulk, monkeypatch):
    monkeypatch.setattr(ingest, "PROGRESS_BYTES", 1)  # every file counts as large
    seen = _Terminal()
    monkeypatch.setattr(sys, "stderr", seen)
    path = bulk.files["proofpoint_pod_json"]
    with Workspace(":memory:") as ws:
        ws.ingest("c", [str(path)])
    assert f"reading {path.name}" in seen.getvalue()
    assert f"loading {path.name}" in seen.getvalue()


def test_a_small_file_or_no_terminal_shows_no_progress(bulk, monkeypatch):
    seen = _Terminal()
    monkeypatch.setattr(sys, "stderr", seen)
    with Workspace(":memory:") as ws:
        ws.ingest("c", [str(bulk.files["proofpoint_pod_json"])])  # below PROGRESS_BYTES
    assert seen.getvalue() == ""


def test_rows_staged_inside_an_open_transaction_are_not_numbered(bulk, tmp_path):
    con = duckdb.connect(str(tmp_path / "t.duckdb"))
    con.execute("BEGIN TRANSACTION")
    staged = _bulk.stage(con, _bulk.Bulk(reader=_bulk.lines_reader(),
                                         reader_params=[str(bulk.files["proofpoint_pod_json"])], select=""))
    con.execute("ROLLBACK")
    con.close()
    assert staged is None


QUOTE_SHAPES = ['"a"b,c', 'a"b,c', 'a""b,c', '"a""b",c', '"a"\t,c', '\t"a",c', '"a",c"', 'a,"b"x', '"a"",c',
                'x,"b" ', ' "a",c', '"a" ,c', '"a" "b",c', 'x,"" ', '"a,b" ,c', 'x, "a ""q"" b"', '"a" , "b"']


@pytest.mark.parametrize("line", QUOTE_SHAPES)
def test_a_quote_shape_is_read_as_python_reads_it_or_refused(line, tmp_path):
    """For every line DuckDB reads without error, either its fields are Python csv's, or the RFC 4180
    check sends the file to parse()."""
    path = tmp_path / "q.csv"
    path.write_text("h1,h2\n" + line + "\n", encoding="utf-8")
    python = next(csv.reader(io.StringIO(line)))
    con = duckdb.connect()
    try:
        duck = con.execute(_bulk.csv_reader(2), [str(path), 1]).fetchall()
    except duckdb.Error:
        return  # refused: the file goes to parse()
    agree = len(duck) == 1 and duck[0][2] and list(duck[0][:2]) == python
    assert agree or not _bulk.rfc4180_verify(path)(con, "", 0), (duck, python)


def test_csv_header_is_the_whole_first_line_or_nothing():
    sample = (Path(__file__).resolve().parents[1] / "data" / "samples" / "acme" / "phishsim_export.csv").read_bytes()
    first, rest = sample.split(b"\n", 1)
    names = first.rstrip(b"\r").decode().split(",")
    assert _bulk.csv_header(sample) == names
    assert _bulk.csv_header(b"\xef\xbb\xbf" + first.rstrip(b"\r") + b"\r\n" + rest) == names  # BOM, CRLF
    assert _bulk.csv_header(b'"a","b ""x"""\n1,2\n') == ["a", 'b "x"']
    for head in (first,  # the record does not end within the head
                 b"\n" + sample,  # blank first line
                 b'"a\nb",c\n1,2\n',  # a quoted line break: the header is two lines
                 b"a\rb,c\n1,2\n",  # a bare CR
                 b'"a,b\n1,2\n'):  # an open quote
        assert _bulk.csv_header(head) is None, head[:20]
