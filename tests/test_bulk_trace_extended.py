"""The DuckDB bulk path of the EAC historical-search reports (Enhanced summary and Extended) reads every
kind of row as the Python parser does, recipient lists included, and sends any row it cannot read the
same way to the parser."""

from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path

import pytest

from bulk_support import load, same

from phishtrace import textio

DATA = Path(__file__).parent / "data" / "m365_trace_extended"
FMT = "m365_trace_extended_csv"


def table(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows (by header name) of a sample report."""
    header, *rows = csv.reader(io.StringIO(textio.read_text(path), newline=""))
    return header, [dict(zip(header, r)) for r in rows]


EXT_HEADER, EXT_ROWS = table(DATA / "extended_utf16le_bom.csv")
SUM_HEADER, SUM_ROWS = table(DATA / "enhanced_summary_utf16le.csv")


def line(values: list[str], quote_all: bool = True) -> str:
    if quote_all:
        return ",".join('"' + v.replace('"', '""') + '"' for v in values)
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(values)
    return out.getvalue()


def ext(row: int = 2, header: list[str] = EXT_HEADER, quote_all: bool = True, **changes: str) -> str:
    """A line of the Extended sample (row `row`, DELIVER to alice by default) with some values changed."""
    values = EXT_ROWS[row] | changes
    return line([values.get(h, "") for h in header], quote_all)


def summ(row: int = 0, **changes: str) -> str:
    """A line of the Enhanced summary sample with some values changed."""
    values = SUM_ROWS[row] | changes
    return line([values[h] for h in SUM_HEADER])


EXT_ALL = [ext(i) for i in range(len(EXT_ROWS))]
SUM_ALL = [summ(i) for i in range(len(SUM_ROWS))]
EXT_LINE = line(EXT_HEADER)
SUM_LINE = line(SUM_HEADER)
# other column order, upper case with spaces, an unknown column, a name given twice (the last one counts)
ODD_HEADER = ["Event ID", "DATE-TIME", "custom_data", "Recipient Address", "Recipient Status", "Unknown Column",
              "message_id", "MESSAGE_ID", "Sender_Address"]


def odd_row(**changes: str) -> str:
    values = {"Event ID": "DELIVER", "DATE-TIME": "2024-03-05T10:02:12.5210000Z", "custom_data": "S:SFA=SUM|DI=SJ;",
              "Recipient Address": "a@c.example;b@c.example", "Recipient Status": "250 OK;550 5.1.1 no",
              "Unknown Column": "x", "message_id": "<first@x.example>", "MESSAGE_ID": "<second@x.example>",
              "Sender_Address": "s@x.example"} | changes
    return line(list(values.values()), quote_all=False)


def with_header(header: list[str], rows: list[str]) -> list[str]:
    return [line(header, quote_all=False), *rows]


# (lines after the header, or (header line, lines); read by DuckDB: True, by parse(): False,
# refused by parse() or not tried: None)
EXTENDED = {
    "plain": (EXT_ALL, True),
    "unquoted": ([ext(i, quote_all=False) for i in range(len(EXT_ROWS))], True),
    "header-date_time-other-case": ((line([h.upper() if i % 2 else h.title() for i, h in enumerate(
        ["date_time", *EXT_HEADER[1:]])]), EXT_ALL), True),
    "odd-header": ((line(ODD_HEADER, quote_all=False), [odd_row(), odd_row(**{"Unknown Column": ""})]), True),
    "no-status-column": ((line([h for h in EXT_HEADER if h != "recipient_status"]),
                          [ext(i, [h for h in EXT_HEADER if h != "recipient_status"]) for i in range(5)]), True),
    "recipients-by-semicolon": ([ext(recipient_address="a@c.example;b@c.example",
                                     recipient_status="250 2.1.5 OK;550 5.1.1 RESOLVER.ADR.RecipNotFound")], True),
    "recipients-by-reply": ([ext(recipient_address="a@c.example; b@c.example",
                                 recipient_status="550 5.1.1 RESOLVER.ADR.RecipNotFound; not found;250 2.1.5 OK")],
                            True),
    "recipients-by-to-cc": ([ext(recipient_address="a@c.example;b@c.example", recipient_status="To;x; cc")], True),
    "recipients-unpaired": ([ext(recipient_address="a@c.example;b@c.example;c@c.example",
                                 recipient_status="250 OK;250 OK")], True),
    "recipients-empty-parts": ([ext(recipient_address=" ;a@c.example; ;", recipient_status=" 250 OK ")], True),
    "no-recipient": ([ext(recipient_address="", recipient_status="")], True),
    "non-ascii-text": ([ext(message_subject="Ihr Paket: Zustellung fehlgeschlagen – bitte prüfen ✉")], True),
    "naive-time": ([ext(date_time_utc="2024-03-05T10:02:12.521")], True),
    "offset-time": ([ext(date_time_utc="2024-03-05T11:02:12+01:00")], True),
    "en-us-time": ([ext(date_time_utc="3/5/2024 10:02:12 AM"), ext(date_time_utc="12/25/2024 12:00:01 PM")], True),
    "reply-split-non-ascii": ([ext(recipient_address="a@c.example;b@c.example",
                                   recipient_status="550 nicht gefunden; für;250 OK")], False),
    "tab-in-recipient": ([ext(recipient_address="a@c.example\t;b@c.example", recipient_status="250 OK;250 OK")], False),
    "nbsp-in-status": ([ext(recipient_address="a@c.example;b@c.example", recipient_status="250 OK;\u00a0250 OK")],
                       False),
    "padded-time": ([ext(date_time_utc=" 2024-03-05T10:02:12Z ")], False),
    "space-separated-time": ([ext(date_time_utc="2024-03-05 10:02:12")], False),
    "en-us-time-no-seconds": ([ext(date_time_utc="3/5/2024 10:02 AM")], False),
    "bad-time": ([ext()] * 200 + [ext(date_time_utc="05.03.2024 10:02")], False),  # a reject (under 1% of rows)
    "no-time": ([ext()] * 200 + [ext(date_time_utc="")], False),
    "bad-time-over-share": ([ext(), ext(date_time_utc="05.03.2024 10:02")], None),  # parse()'s error
    "short-row": ([ext(), ext().rsplit(",", 1)[0]], None),
    "extra-empty-field": ([ext() + ","], None),
    "repeated-header": ([ext(), EXT_LINE, ext()], False),
    "blank-line": ([ext(), "", ext()], False),
    "quoted-newline": ([ext(message_subject="two\nlines")], False),
    "stray-bom": ([ext(), "\ufeff" + ext(quote_all=False)], False),  # parse() drops it
    "stray-bom-before-quote": ([ext()] * 200 + ["\ufeff" + ext()], False),  # a reject: the time keeps its quotes
    "quoted-quotes": ([ext(message_subject='Your "parcel" , "could" not ""be"" delivered "')], True),
    # quotes outside the RFC 4180 shape: DuckDB's CSV reader drops spaces next to some of them, Python's not
    "quote-inside-unquoted-field": ([ext(quote_all=False).replace("Your parcel", 'Your "parcel"', 1)], False),
    "space-before-quoted-field": ([ext().replace(',"AM6PR04MB1234', ', "AM6PR04MB1234', 1)], False),
    "space-after-quoted-field": ([ext().replace('"STOREDRIVER",', '"STOREDRIVER"  ,', 1)], False),
    "space-after-empty-quoted-field": ([ext() + " "], False),
    "two-quoted-parts": ([ext().replace('"STOREDRIVER"', '"STORE" "DRIVER"', 1)], False),
    "blank-first-line": (("", [EXT_LINE, ext()]), None),
    "header-quoted-newline": ((EXT_LINE.replace("client_ip", "client\nip", 1), [ext()]), None),
}

SUMMARY = {
    "plain": (SUM_ALL, True),
    "pairs-odd": ([summ(recipient_status=" a@c.example ## Receive, Deliver ;; ;b@c.example;##Fail;c@c.example##x##y;"),
                   summ(recipient_status=""), summ(recipient_status="  ;  "), summ(recipient_status="a@c.example##")],
                  True),
    "non-ascii-recipient": ([summ(recipient_status="zoë@c.example##Receive, Deliver;e\u0301@c.example##Receive")],
                            True),
    "en-us-time": ([summ(origin_timestamp_utc="3/5/2024 1:15:00 PM")], True),
    "nbsp-in-status": ([summ(recipient_status="a@c.example##Receive, Deliver\u00a0;b@c.example##Receive")], False),
    "bad-time": ([summ()] * 200 + [summ(origin_timestamp_utc="05.03.2024 10:02")], False),
    "repeated-header": ([summ(), SUM_LINE, summ()], False),
    "short-row": ([summ(), summ().rsplit(",", 1)[0]], None),
}

VARIANTS = {f"extended-{k}": ("extended", v) for k, v in EXTENDED.items()} | {
    f"summary-{k}": ("summary", v) for k, v in SUMMARY.items()}


def write(path: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    text = "\r\n".join(lines) + "\r\n"
    if encoding == "utf-16-le":
        path.write_bytes(codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    else:
        path.write_bytes(("\ufeff" + text).encode("utf-8"))
    return path


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_report_rows_read_the_same_either_way(variant, tmp_path, monkeypatch):
    kind, (rows, bulk) = VARIANTS[variant]
    header, rows = rows if isinstance(rows, tuple) else (EXT_LINE if kind == "extended" else SUM_LINE, rows)
    path = write(tmp_path / "report.csv", [header, *rows])
    fast, taken = load(path, FMT, monkeypatch, python=False)
    slow, _ = load(path, FMT, monkeypatch, python=True)
    assert same(fast, slow)
    assert taken is bulk


def test_invalid_utf8_goes_to_the_parser_and_its_error(tmp_path, monkeypatch):
    path = tmp_path / "report.csv"
    path.write_bytes("\r\n".join([EXT_LINE, ext(), ext()]).encode() + b"\r\n" +
                     ext(message_subject="bad @ byte").encode().replace(b"@", b"\xff") + b"\r\n")
    fast, taken = load(path, FMT, monkeypatch, python=False)
    slow, _ = load(path, FMT, monkeypatch, python=True)
    assert same(fast, slow) and fast[0] == "InputError"


UTF16 = {
    "le-bom": (lambda text: codecs.BOM_UTF16_LE + text.encode("utf-16-le"), True),
    "le-no-bom": (lambda text: text.encode("utf-16-le"), True),
    "le-no-final-newline": (lambda text: text.rstrip("\r\n").encode("utf-16-le"), True),
    "be-bom": (lambda text: codecs.BOM_UTF16_BE + text.encode("utf-16-be"), None),  # not tried
    # U+4E0A is written with a newline byte: the line count cannot be checked, the parser reads it
    "newline-byte-in-a-character": (lambda text: text.replace("@", "\u4e0a@", 1).encode("utf-16-le"), False),
    # a UTF-8 part in a UTF-16 file: parse() refuses the file
    "mixed-encodings": (lambda text: text.encode("utf-16-le") + "one more line\r\n".encode(), None),
}


@pytest.mark.parametrize("kind", ["extended", "summary"])
@pytest.mark.parametrize("variant", sorted(UTF16))
def test_utf16_reports_read_the_same_either_way(kind, variant, tmp_path, monkeypatch):
    lines = [EXT_LINE, *EXT_ALL] if kind == "extended" else [SUM_LINE, *SUM_ALL]
    encode, bulk = UTF16[variant]
    path = tmp_path / "report.csv"
    path.write_bytes(encode("\r\n".join(lines) + "\r\n"))
    fast, taken = load(path, FMT, monkeypatch, python=False)
    slow, _ = load(path, FMT, monkeypatch, python=True)
    assert same(fast, slow)
    assert taken is bulk
    if variant == "mixed-encodings":
        assert fast[0] == "InputError" and "mixed text encodings" in fast[1]


def test_bulk_values(tmp_path, monkeypatch):
    path = write(tmp_path / "report.csv", with_header(ODD_HEADER, [odd_row()]))
    (rows, manifest, rejects), taken = load(path, FMT, monkeypatch, python=False)
    assert taken
    got = rows.select("source_row", "report", "time_text", "event_ts", "message_id", "sender_address",
                      "recipient_address", "recipient_status", "custom_data", "network_message_id").rows()
    assert [r[:3] + r[4:] for r in got] == [
        (2, "extended", "2024-03-05T10:02:12.5210000Z", "<second@x.example>", "s@x.example", "a@c.example", "250 OK",
         "S:SFA=SUM|DI=SJ;", None),
        (2, "extended", "2024-03-05T10:02:12.5210000Z", "<second@x.example>", "s@x.example", "b@c.example",
         "550 5.1.1 no", "S:SFA=SUM|DI=SJ;", None)]
    assert got[0][3].isoformat() == "2024-03-05T10:02:12.521000+00:00"
    assert manifest["rows_loaded"].to_list() == [2] and rejects.height == 0

    path = write(tmp_path / "summary.csv", [SUM_LINE, summ()])
    (rows, _, _), taken = load(path, FMT, monkeypatch, python=False)
    assert taken
    assert rows.select("report", "recipient_address", "recipient_status").rows() == [
        ("enhanced_summary", "alice@contoso.com", "Receive, Deliver"),
        ("enhanced_summary", "frank@contoso.com", "Receive, Fail"),
        ("enhanced_summary", "leo@onprem.contoso.com", "Receive, Send")]


def test_the_samples_are_read_by_duckdb(monkeypatch):
    samples = sorted(DATA.glob("*.csv"))
    assert len(samples) == 4
    for path in samples:
        with monkeypatch.context() as patch:
            fast, taken = load(path, FMT, patch, python=False)
        with monkeypatch.context() as patch:
            slow, _ = load(path, FMT, patch, python=True)
        assert taken, path
        assert same(fast, slow), path
