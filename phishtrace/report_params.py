"""The delivery report's parameters: the papermill `parameters` cell of notebooks/delivery_report.ipynb
defines exactly these names (a test checks it)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import datetime

from phishtrace.errors import PhishtraceError

LATENCY_UNITS = ("auto", "seconds", "minutes", "hours", "days")


@dataclass(frozen=True)
class ReportParams:
    customer: str
    campaign: str | None = None      # None: every campaign of the customer
    db: str | None = None            # workspace file (None: $PHISHTRACE_DB or ./phishtrace.duckdb)
    as_of: str | None = None         # ISO 8601 "now" for stalled/held judgements (None: latest loaded)
    mask_recipients: bool = False    # pseudonyms instead of addresses (key: $PHISHTRACE_MASK_KEY)
    latency_unit: str = "auto"       # auto | seconds | minutes | hours | days
    max_table_rows: int = 1000       # rows shown in the not-in-inbox table (the CSV has all)
    outcomes_csv: str | None = None  # where to write the outcome table as CSV (None: not written)
    time_zone: str = "UTC"           # zone the page shows times in (IANA name or +hh:mm); the CSV stays UTC
    count_opens: bool = True         # False: an open is not a person's interaction (image-fetching clients)

    def __post_init__(self) -> None:
        if not isinstance(self.customer, str) or not self.customer.strip():
            raise PhishtraceError("the report needs a customer")
        if self.latency_unit not in LATENCY_UNITS:
            raise PhishtraceError(f"latency unit {self.latency_unit!r}: use one of {', '.join(LATENCY_UNITS)}")
        if not isinstance(self.max_table_rows, int) or self.max_table_rows < 0:
            raise PhishtraceError("max_table_rows must be a whole number >= 0")
        self.zone()  # an unknown zone is an error before anything renders
        if self.db == ":memory:":
            raise PhishtraceError("a report reads a workspace file; ':memory:' has nothing in it")

    def as_of_datetime(self) -> datetime | None:
        if not self.as_of:
            return None
        from phishtrace.timeparse import TimeParseError, parse_iso
        try:
            return parse_iso(self.as_of)
        except TimeParseError as exc:
            raise PhishtraceError(f"as_of: {exc}") from None

    def zone(self):
        from phishtrace.timeparse import zone
        if not isinstance(self.time_zone, str) or not self.time_zone.strip():
            raise PhishtraceError("time_zone must be a zone name such as UTC or Europe/Paris")
        return zone(self.time_zone)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]
