"""The bulk path of a loader: DuckDB reads the file itself, for the common, clean shape of a format.

A loader may offer `bulk(src) -> Bulk | None`. `Bulk.select` is one SQL query (values through
`params`) that yields `source_row` and the loader's raw columns in their declared order, plus a
boolean `_bad` that is true for every row the Python parser would treat differently (reject, skip,
or read otherwise). The ingest inserts the query's rows and, when any row is bad, when DuckDB
cannot read the file, or when the row count does not match the file's line count, undoes the
insert and parses the file with the loader's `parse()`: so errors and rejects are always the ones
the Python parser reports (file, line, reason), and a file is never half loaded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# (no value is interpolated into these snippets: only column expressions built from identifiers)

# line terminators str.splitlines() honours besides \n and \r\n: a file with any of them is not read in bulk
ODD_BREAKS = "[\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]"


@dataclass
class Bulk:
    select: str
    params: list = field(default_factory=list)
    # physical lines the query reads (header lines excluded); None: not checked
    lines_read: int | None = None
    # (connection, quoted raw table, load_id) -> (window_start, window_end), or None when a value that
    # gives the window cannot be read (parse() then reports it); None: min/max of ts_column
    window: Callable[[Any, str, int], tuple] | None = None
    # (connection, quoted raw table, load_id) -> False when the loaded rows need parse() after all
    verify: Callable[[Any, str, int], bool] | None = None


# every character str.isspace() accepts
_SPACES = r"[\t\n\x0b\x0c\r\x1c-\x1f \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]*"


def text(expr: str) -> str:
    """Python's `value if value.strip() else None` for a VARCHAR expression (the regular expression
    only runs for values that start with something other than a visible ASCII character)."""
    return (f"CASE WHEN {expr} = '' THEN NULL WHEN ascii({expr}) BETWEEN 33 AND 126 THEN {expr} "
            f"WHEN regexp_full_match({expr}, '{_SPACES}') THEN NULL ELSE {expr} END")


def lines_reader() -> str:
    """read_csv call that yields every physical line of a file as `line` (NULL for an empty line), in
    order with its 1-based number `n`. The unit separator cannot occur raw in valid JSON text, so
    JSON lines are never split; a line containing one is invalid JSON and marked bad by the caller."""
    return ("(SELECT row_number() OVER () AS n, line FROM read_csv(?, columns = {'line': 'VARCHAR'}, header = false, "
            "delim = '\x1f', quote = '', escape = '', strict_mode = true, max_line_size = 134217728, "
            "auto_detect = false))")


def iso_utc(expr: str) -> str:
    """UTC TIMESTAMPTZ of 'YYYY-MM-DDTHH:MM:SS[.fff…][Z|±HH:MM|±HHMM]' (naive = UTC), fraction cut to
    microseconds as timeparse.parse_iso does; NULL for any other shape (then parse() decides)."""
    pattern = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})?"
    base = f"try_strptime(substr({expr}, 1, 19), '%Y-%m-%dT%H:%M:%S')"
    frac = f"regexp_extract({expr}, '^.{{19}}\\.(\\d+)', 1)"
    micros = f"CASE WHEN {frac} = '' THEN 0 ELSE CAST(rpad(left({frac}, 6), 6, '0') AS BIGINT) END"
    zone = f"regexp_extract({expr}, '([+-])(\\d{{2}}):?(\\d{{2}})$', ['s', 'h', 'm'])"
    offset = (f"CASE WHEN {zone}.s = '' THEN 0 ELSE (CASE WHEN {zone}.s = '-' THEN -1 ELSE 1 END) "
              f"* (CAST({zone}.h AS INTEGER) * 60 + CAST({zone}.m AS INTEGER)) END")
    return (f"CASE WHEN regexp_full_match({expr}, '{pattern}') THEN timezone('UTC', {base} "
            f"+ to_microseconds({micros}) - to_minutes({offset})) END")


def en_us_utc(expr: str) -> str:
    """UTC TIMESTAMPTZ of en-US 'M/d/yyyy h:mm:ss AM' (PowerShell Export-Csv), read as UTC; else NULL."""
    pattern = r"\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}:\d{2} [AP]M"
    return (f"CASE WHEN regexp_full_match({expr}, '{pattern}') "
            f"THEN timezone('UTC', try_strptime({expr}, '%m/%d/%Y %I:%M:%S %p')) END")


def any_utc(expr: str) -> str:
    """timeparse.parse_any(value, UTC) for the shapes above, values without surrounding blanks; NULL
    when the value is none of them."""
    return f"CASE WHEN strpos(left({expr}, 6), '/') > 0 THEN {en_us_utc(expr)} ELSE {iso_utc(expr)} END"


def is_utf8_path(path: Path, head: bytes) -> bool:
    """DuckDB reads UTF-8 only (a UTF-8 BOM is fine)."""
    return not head.startswith((b"\xff\xfe", b"\xfe\xff")) and b"\x00" not in head[:4096]
