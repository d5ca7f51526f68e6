"""PhishSim campaign export and learner list (phishtrace's documented schema, DESIGN §2.1 / README).

Campaign export: one row per learner per campaign run, header
`Campaign, Campaign Run, Run Start, Run End, First Name, Last Name, Email, Status, Scheduled At, Sent At,
Delivered At, Opened At, Phished At, Replied At, Entered Data At, Reported At, Bounced At, Bounce Reason,
Sender, Subject, Message ID`. Timestamps are ISO 8601 with any offset (a value without one is refused);
statuses are matched case-insensitively.
"""

from __future__ import annotations

from phishtrace.errors import InputError
from phishtrace.loaders import _bulk
from phishtrace.loaders._csvutil import header_names, norm_header, read_rows
from phishtrace.registry import Loader, Parsed, Reject, SourceFile
from phishtrace.timeparse import TimeParseError, parse_iso

EXPORT_COLUMNS = [
    "Campaign", "Campaign Run", "Run Start", "Run End", "First Name", "Last Name", "Email", "Status",
    "Scheduled At", "Sent At", "Delivered At", "Opened At", "Phished At", "Replied At", "Entered Data At",
    "Reported At", "Bounced At", "Bounce Reason", "Sender", "Subject", "Message ID",
]
EXPORT_REQUIRED = ["Campaign", "Campaign Run", "Email", "Status", "Sent At"]
TIME_COLUMNS = ["Run Start", "Run End", "Scheduled At", "Sent At", "Delivered At", "Opened At", "Phished At",
                "Replied At", "Entered Data At", "Reported At", "Bounced At"]
STATUSES = {"scheduling", "scheduled", "sent", "delivered", "bounced", "opened", "phished", "replied",
            "entered data"}

LEARNER_COLUMNS = ["Email", "First Name", "Last Name", "Bounced", "Bounced At", "Bounce Reason"]
TRUE = {"true", "yes", "y", "1", "bounced"}
FALSE = {"false", "no", "n", "0", ""}


def _col(name: str) -> str:
    """Raw column name for a header: 'Sent At' -> 'sent_at'."""
    return name.lower().replace(" ", "_")


def _ts_col(name: str) -> str:
    return _col(name) + "_ts"


_TIME_KEYS = [(c, _col(c), _ts_col(c)) for c in TIME_COLUMNS]
# (header key, raw column) per documented column, computed once
_KEYS = {c: (norm_header(c), _col(c)) for c in EXPORT_COLUMNS + LEARNER_COLUMNS}


def _record(line: int, row: dict[str, str], columns: list[str]) -> dict:
    """The raw record of one CSV row: every documented column as trimmed text (empty -> None)."""
    rec: dict = {"source_row": line}
    for c in columns:
        key, col = _KEYS[c]
        value = row.get(key)
        value = value.strip() if value is not None else None
        rec[col] = value or None
    if not rec["email"] or "@" not in rec["email"]:
        raise ValueError(f"expected an e-mail address in Email, got {rec['email']!r}")
    return rec


class PhishSimExport(Loader):
    name = "phishsim_csv"
    hop = "platform"
    produces = "messages"
    recognised_by = "CSV header with Campaign, Campaign Run, Email, Status and Sent At columns"
    columns = {
        **{_col(c): "VARCHAR" for c in EXPORT_COLUMNS},
        **{_ts_col(c): "TIMESTAMPTZ" for c in TIME_COLUMNS},
    }
    ts_column = "sent_at_ts"

    def sniff(self, head: bytes, text: str) -> bool:
        names = set(header_names(text))
        return {norm_header(c) for c in EXPORT_REQUIRED} <= names

    def parse(self, src: SourceFile) -> Parsed:
        header, rows = read_rows(src.path, src.text(), EXPORT_REQUIRED,
                                 expected_desc="the PhishSim export header (" + ", ".join(EXPORT_COLUMNS) + ")")
        out, rejects = [], []
        for line, row in rows:
            if "__error__" in row:
                rejects.append(Reject(line, row["__error__"]))
                continue
            try:
                rec = _record(line, row, EXPORT_COLUMNS)
                status = (rec["status"] or "").lower()
                if status not in STATUSES:
                    raise ValueError(f"unknown Status {rec['status']!r}: expected one of Scheduling, Scheduled, Sent, "
                                     "Delivered, Bounced, Opened, Phished, Replied, Entered Data")
                for c, col, ts_col in _TIME_KEYS:
                    value = rec[col]
                    try:
                        rec[ts_col] = parse_iso(value, naive_tz=None) if value else None
                    except TimeParseError as exc:
                        raise ValueError(f"{c}: {exc}") from None
            except ValueError as exc:
                rejects.append(Reject(line, str(exc)))
                continue
            out.append(rec)
        return Parsed(out, rejects)

    def bulk(self, src: SourceFile, lines: int) -> _bulk.Bulk | None:
        """DuckDB reads a comma-separated UTF-8 export whose header is its first line, each documented
        column named once; any row parse() would reject or read otherwise sends the file to parse()."""
        if not _bulk.is_utf8(src.head):
            return None
        fields = _bulk.csv_header(src.head)
        if fields is None:
            return None
        names = [norm_header(n) for n in fields]
        keys = {c: _KEYS[c][0] for c in EXPORT_COLUMNS}
        if any(names.count(k) > 1 for k in keys.values()) or not all(keys[c] in names for c in EXPORT_REQUIRED):
            return None
        source = {_col(c): f"c{names.index(k)}" if k in names else None for c, k in keys.items()}
        values = [f"nullif({v}, '') AS {col}" if v else f"CAST(NULL AS VARCHAR) AS {col}" for col, v in source.items()]
        padded = _bulk.any_padded([v for v in source.values() if v])
        stamps = [f"{_bulk.iso_utc(_col(c), zoned=True)} AS {_ts_col(c)}" for c in TIME_COLUMNS]
        bad = " OR ".join([
            "NOT fields_ok", "padded", "email IS NULL", "strpos(email, '@') = 0", "lower(status) NOT IN ?",
            *(f"({_col(c)} IS NOT NULL AND {_ts_col(c)} IS NULL)" for c in TIME_COLUMNS),
        ])
        select = f"""
            SELECT source_row, {', '.join(self.columns)}, {bad} AS _bad
            FROM (SELECT *, {', '.join(stamps)}
                  FROM (SELECT n + 1 AS source_row, {', '.join(values)}, {padded} AS padded, *
                        FROM {_bulk.numbered()}))"""
        return _bulk.Bulk(reader=_bulk.csv_reader(len(names)), reader_params=[str(src.path), 1], select=select,
                          params=[sorted(STATUSES)], lines_read=lines - 1,
                          verify=_bulk.rfc4180_verify(src.path))


class PhishSimLearners(Loader):
    name = "phishsim_learners_csv"
    hop = "platform"
    produces = "learners"
    recognised_by = "CSV header Email, First Name, Last Name, Bounced, Bounced At, Bounce Reason (no Campaign column)"
    columns = {**{_col(c): "VARCHAR" for c in LEARNER_COLUMNS}, "bounced_flag": "BOOLEAN",
               "bounced_at_ts": "TIMESTAMPTZ"}
    ts_column = "bounced_at_ts"

    def sniff(self, head: bytes, text: str) -> bool:
        names = set(header_names(text))
        return {"email", "bounced"} <= names and "campaign" not in names

    def parse(self, src: SourceFile) -> Parsed:
        header, rows = read_rows(src.path, src.text(), ["Email", "Bounced"],
                                 expected_desc="the learner list header (" + ", ".join(LEARNER_COLUMNS) + ")")
        out, rejects = [], []
        for line, row in rows:
            if "__error__" in row:
                rejects.append(Reject(line, row["__error__"]))
                continue
            try:
                rec = _record(line, row, LEARNER_COLUMNS)
                flag = (rec["bounced"] or "").lower()
                if flag not in TRUE | FALSE:
                    raise ValueError(f"expected Bounced true or false, got {rec['bounced']!r}")
                rec["bounced_flag"] = flag in TRUE
                try:
                    rec["bounced_at_ts"] = parse_iso(rec["bounced_at"], naive_tz=None) if rec["bounced_at"] else None
                except TimeParseError as exc:
                    raise ValueError(f"Bounced At: {exc}") from None
            except ValueError as exc:
                rejects.append(Reject(line, str(exc)))
                continue
            out.append(rec)
        return Parsed(out, rejects)


__all__ = ["PhishSimExport", "PhishSimLearners", "InputError"]
