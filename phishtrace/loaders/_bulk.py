"""The bulk path of a loader: DuckDB reads the file itself, for the common, clean shape of a format.

A loader may offer `bulk(src, lines) -> Bulk | None`. `Bulk.reader` (values through
`reader_params`) reads the file's records in file order; the ingest stores its rows in a temporary
table, in parallel and spilling to disk under the memory limit, and numbers them by their position
(`numbered()`, the only place a bulk query reads them from). `Bulk.select` (values through `params`)
yields `source_row` and the loader's raw columns in their declared order from that, plus a boolean
`_bad` that is true for every row the Python parser would treat differently (reject, skip, or read
otherwise). The ingest inserts the query's rows and, when any row is bad, when DuckDB cannot read
the file, or when the row count does not match the file's line count, undoes the insert and parses
the file with the loader's `parse()`: so errors and rejects are always the ones the Python parser
reports (file, line, reason), and a file is never half loaded.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from phishtrace import textio

# (no value is interpolated into these snippets: only column expressions built from identifiers)

# line terminators str.splitlines() honours besides \n and \r\n: a file with any of them is not read in bulk
ODD_BREAKS = "[\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]"

# max_line_size below (8 MiB): the longest line DuckDB reads in bulk; a longer one is a read error, and
# the file goes to parse(). DuckDB sizes its read buffers from it, per thread, so it bounds the memory
# of every bulk read (at 128 MiB a 1.5 GB file needed more than 1.5 GiB).

# the temporary table the ingest fills from Bulk.reader
SOURCE_TABLE = "_pt_bulk_source"


@dataclass
class Bulk:
    reader: str
    reader_params: list
    select: str
    params: list = field(default_factory=list)
    # physical lines the reader reads (header lines excluded): the staged row count; None: not checked
    lines_read: int | None = None
    # (connection, quoted raw table, load_id) -> (window_start, window_end), or None when a value that
    # gives the window cannot be read (parse() then reports it); None: min/max of ts_column
    window: Callable[[Any, str, int], tuple] | None = None
    # (connection, quoted raw table, load_id) -> False when the loaded rows need parse() after all
    verify: Callable[[Any, str, int], bool] | None = None


# every character str.isspace() accepts, and those but the plain space
_ISSPACE = r"\t\n\x0b\x0c\r\x1c-\x1f\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}"
_SPACE = "[ " + _ISSPACE + "]"
ODD_SPACE = "[" + _ISSPACE + "]"
_SPACES = _SPACE + "*"


def text(expr: str) -> str:
    """Python's `value if value.strip() else None` for a VARCHAR expression (the regular expression
    only runs for values that start with something other than a visible ASCII character)."""
    return (f"CASE WHEN {expr} = '' THEN NULL WHEN ascii({expr}) BETWEEN 33 AND 126 THEN {expr} "
            f"WHEN regexp_full_match({expr}, '{_SPACES}') THEN NULL ELSE {expr} END")


# the encodings DuckDB reads (its 'utf-16' is little-endian, with or without BOM)
ENCODINGS = ("utf-8", "utf-16")


def lines_reader(encoding: str = "utf-8") -> str:
    """Bulk.reader (parameter: path) that yields every physical line of a file as `line` (NULL for an
    empty line), in file order. The unit separator cannot occur raw in valid JSON text, so JSON lines
    are never split; a line containing one is invalid JSON and marked bad by the caller."""
    assert encoding in ENCODINGS
    return ("SELECT line FROM read_csv(?, columns = {'line': 'VARCHAR'}, header = false, "
            "delim = '\x1f', quote = '', escape = '', strict_mode = true, max_line_size = 8388608, "
            f"auto_detect = false, encoding = '{encoding}')")


def json_lines_reader(**columns: str) -> str:
    """Bulk.reader (parameter: path): lines_reader() plus a column per keyword (name = SQL expression),
    computed from `line` while the file is staged (NULL for a blank line). Whatever a bulk query's
    filter refers to belongs here: DuckDB pushes a filter below the projections and evaluates the
    expression behind each column it names once per reference, so a filter on an extracted JSON value
    would parse the line again for each."""
    blank = f"{text('line')} IS NULL"
    computed = ", ".join(f"CASE WHEN {blank} THEN NULL ELSE {expr} END AS {name}"
                         for name, expr in columns.items())
    return f"SELECT line, {computed} FROM ({lines_reader()})"


def csv_header(head: bytes) -> list[str] | None:
    """The fields of a CSV file's first line when that line is the whole header record and ends within
    the head (not blank, no quoted line break, no bare CR), else None: the bulk path then leaves the
    file to parse()."""
    first = textio.head_text(head).lstrip("\ufeff").split("\n", 1)
    line = first[0].rstrip("\r")
    if len(first) < 2 or "\r" in line or not line.strip():
        return None
    try:
        return next(csv.reader([line], strict=True))
    except (csv.Error, StopIteration):
        return None


def stage(con: Any, bulk: Bulk) -> int | None:
    """Store the rows of `bulk.reader` in SOURCE_TABLE, read in parallel and kept in file order, and
    return their count; None when their rowids are not their positions 0…n-1 (a row appended inside
    an open transaction gets a provisional rowid until commit), and numbered() cannot be used."""
    con.execute("SET preserve_insertion_order = true")
    con.execute(f"CREATE OR REPLACE TEMPORARY TABLE {SOURCE_TABLE} AS {bulk.reader}", bulk.reader_params)
    low, high, count = con.execute(f"SELECT min(rowid), max(rowid), count(*) FROM {SOURCE_TABLE}").fetchall()[0]
    return count if count == 0 or (low == 0 and high == count - 1) else None


def numbered() -> str:
    """The rows of Bulk.reader with their 1-based position `n` (the reader's rows were stored in file
    order, so a row's rowid is its position)."""
    return f"(SELECT rowid + 1 AS n, * FROM {SOURCE_TABLE})"


def iso_utc(expr: str, zoned: bool = False) -> str:
    """UTC TIMESTAMPTZ of 'YYYY-MM-DDTHH:MM:SS[.fff…][Z|±HH:MM|±HHMM]' (naive = UTC, or NULL when
    `zoned`), fraction cut to microseconds as timeparse.parse_iso does; NULL for any other shape or an
    impossible date (then parse() decides)."""
    stamp = r"[1-9]\d{3}-\d{2}-\d{2}T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,9})?"
    with_zone = f"CASE WHEN regexp_full_match({expr}, '{stamp}(Z|[+-]([01]\\d|2[0-3]):?[0-5]\\d)') THEN try_cast({expr} AS TIMESTAMPTZ)"
    if zoned:
        return with_zone + " END"
    return with_zone + f" WHEN regexp_full_match({expr}, '{stamp}') THEN try_cast({expr} || 'Z' AS TIMESTAMPTZ) END"


def any_padded(exprs: list[str]) -> str:
    """True when any of the VARCHAR expressions starts or ends with white space (as str.isspace() sees
    it): for the others, Python's `value.strip() or None` is `nullif(value, '')`."""
    joined = f"concat_ws(chr(1), {', '.join(exprs)})"  # a separator that is not white space
    return f"regexp_matches({joined}, '(^|\\x01){_SPACE}|{_SPACE}(\\x01|$)')"


def csv_reader(columns: int, encoding: str = "utf-8") -> str:
    """Bulk.reader (parameters: path, lines to skip) that yields the columns c0…c{n-1} as VARCHAR (an
    empty field is '', never NULL), RFC 4180 quoting, in file order, and `fields_ok`: false for a row
    with another field count, or a quoted line break in a field (a record over several lines: its
    position is not its line). (DuckDB's strict mode lets a row with one extra empty trailing field
    through; read with one more column, padded with NULL, that row shows as '' there. DuckDB 2's
    parallel reader refuses a quoted line break together with null_padding, which also sends the file
    to parse(); the check keeps that guarantee should it stop refusing.) A NUL character in a field
    also makes `fields_ok` false (the Python readers refuse it)."""
    assert encoding in ENCODINGS
    cols = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(columns + 1))
    present = " AND ".join(f"c{i} IS NOT NULL" for i in range(columns))
    joined = f"concat({', '.join(f'c{i}' for i in range(columns))})"
    return (f"SELECT * EXCLUDE (c{columns}), c{columns} IS NULL AND {present} "
            f"AND NOT contains({joined}, chr(10)) AND NOT contains({joined}, chr(13)) "
            f"AND NOT contains({joined}, chr(0)) AS fields_ok "
            "FROM read_csv(?, columns = {" + cols + "}, header = false, skip = ?, delim = ',', quote = '\"', "
            "escape = '\"', strict_mode = true, null_padding = true, nullstr = chr(0), auto_detect = false, "
            f"max_line_size = 8388608, encoding = '{encoding}')")


# one CSV line as RFC 4180 writes it: quoted fields ("" inside) or fields without any quote, comma-separated
# (a BOM may start the first line; the line reader leaves a CR before LF at the end of the line)
_RFC_LINE = r'\x{feff}?(?:"(?:[^"]|"")*"|[^",]*)(?:,(?:"(?:[^"]|"")*"|[^",]*))*\r?'


def rfc4180_verify(path: Path | str, encoding: str = "utf-8") -> Callable[[Any, str, int], bool]:
    """Bulk.verify for csv_reader(): False when a line of the file holds a quote outside the RFC 4180
    shape. DuckDB's CSV reader and Python's csv module read such lines differently without an error:
    DuckDB drops a space before an opening quote or after a closing one (` "a"` gives 'a' where Python
    keeps ' "a"'; `"a" "b"` gives 'a b' where Python reads 'a "b"'), so those files go to parse(). Only
    lines with a space beside a quote are matched (other characters beside a quote are read alike, or
    DuckDB refuses the line: tests/test_bulk.py checks both readers on each such shape)."""
    def verify(con: Any, table: str, load_id: int) -> bool:
        odd = con.execute(f"SELECT count(*) FROM ({lines_reader(encoding)}) "
                          "WHERE (contains(line, ' \"') OR contains(line, '\" ')) "
                          f"AND NOT regexp_full_match(line, '{_RFC_LINE}')", [str(path)]).fetchall()[0][0]
        return odd == 0

    return verify


def physical_lines(path: Path, encoding: str, lines: int) -> int:
    """The lines DuckDB reads in a file of `encoding`, from the ingest's count (every newline byte, plus
    one for a last line without newline). In UTF-16 the count is right when every newline byte is a
    newline character: a character with a 0x0A byte (U+4E0A) or a UTF-8 part in the file (parse()
    refuses mixed encodings) makes it larger than DuckDB's, and the file goes to parse()."""
    if encoding == "utf-8" or lines == 0:
        return lines
    with Path(path).open("rb") as fh:
        fh.seek(-2, 2)
        return lines - 1 if fh.read(2) == b"\n\x00" else lines


def en_us_utc(expr: str) -> str:
    """UTC TIMESTAMPTZ of en-US 'M/d/yyyy h:mm:ss AM' (PowerShell Export-Csv), read as UTC; else NULL."""
    pattern = r"\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}:\d{2} [AP]M"
    return (f"CASE WHEN regexp_full_match({expr}, '{pattern}') "
            f"THEN timezone('UTC', try_strptime({expr}, '%m/%d/%Y %I:%M:%S %p')) END")


def any_utc(expr: str) -> str:
    """timeparse.parse_any(value, UTC) for the shapes above, values without surrounding blanks; NULL
    when the value is none of them."""
    return f"CASE WHEN strpos(left({expr}, 6), '/') > 0 THEN {en_us_utc(expr)} ELSE {iso_utc(expr)} END"


def is_utf8(head: bytes) -> bool:
    """A file that starts as UTF-8 (a UTF-8 BOM is fine), the encoding every bulk reader reads."""
    return not head.startswith((b"\xff\xfe", b"\xfe\xff")) and b"\x00" not in head[:4096]


def csv_encoding(head: bytes) -> str | None:
    """The encoding (of ENCODINGS) csv_reader() reads a file in, from its first bytes: UTF-8, or UTF-16
    little-endian with or without BOM; None for UTF-16 big-endian."""
    if is_utf8(head):
        return "utf-8"
    return "utf-16" if textio.detect_encoding(head) in ("utf-16-le", "utf-16") and not head.startswith(b"\xfe\xff") \
        else None


# a JSON string, as DuckDB writes it (and as a valid line holds it)
_JSON_STRING = r'"(?:[^"\\]|\\.)*"'
# text that may hold JSON DuckDB reads but orjson refuses (parse() rejects the line): a trailing comma,
# NaN / Infinity, a number that overflows a double (cheap test: a value after ':' ',' or '[' as a number
# starts; _NONSTANDARD then looks outside strings)
_SUSPECT = r",[ \t\r\n]*[\]}]|[:,\[][ \t\r\n]*-?([Nn][Aa][Nn]|[Ii][Nn][Ff]|[0-9.]+[eE][+-]?[0-9]{3}|[0-9]{300})"
_NONSTANDARD = r"[A-DF-Za-df-z]|,[ \t\r\n]*[\]}]|[0-9][eE][+-]?[0-9]{3}|[0-9]{300}"


def strict_json(line: str) -> str:
    """SQL: true when the JSON text `line` is read by orjson / json as DuckDB reads it, as far as the
    query can tell (DuckDB's reader is lenient where they refuse): no trailing comma, NaN, Infinity or
    overflowing number outside strings, no \\u0000 escape, and too few brackets to nest deeper than
    orjson's limit (1024)."""
    stripped = f"regexp_replace({line}, '{_JSON_STRING}|true|false|null', '', 'g')"
    # (CASE: the costly tests only run on the few lines that need them)
    return (f"(NOT contains({line}, '\\u0000') "
            f"AND CASE WHEN regexp_matches({line}, '{_SUSPECT}') THEN NOT regexp_matches({stripped}, '{_NONSTANDARD}') "
            "ELSE true END "
            f"AND CASE WHEN strlen({line}) <= 2000 THEN true "
            f"ELSE strlen({line}) - strlen(replace(replace({line}, '[', ''), '{{', '')) <= 1000 END)")


def no_repeated_keys(keys: str) -> str:
    """SQL: no list of the json_keys() list `keys` names a key twice."""
    return f"coalesce(len(list_filter({keys}, lambda k: len(k) <> len(list_distinct(k)))) = 0, true)"


def json_ok(objects: tuple[str, ...]) -> str:
    """SQL: the JSON line `line` is read by orjson as DuckDB reads it (strict_json), with no key repeated
    in any of the `objects` (JSON paths) whose members the query reads: DuckDB reads a repeated key's
    first value, orjson its last."""
    keys = "json_keys(line, [" + ", ".join(f"'{p}'" for p in objects) + "])"
    return f"({strict_json('line')} AND {no_repeated_keys(keys)})"
