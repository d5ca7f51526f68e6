"""Microsoft Defender for Office 365 Attack simulation training: simulation report user export CSV
(``ms_ast_csv``; formats.md §1.4, §5.1).

No real export file is public. The column names follow the document formats.md §1.4 cites
(MicrosoftDocs/defender-docs @ 006b8a9, ``defender-office-365/attack-simulation-training-insights.md``,
its "Appendix" field table, of which §1.4 lists a part); their order and any columns not listed
there are UNCERTAIN. Header names are matched case-insensitively and ignoring spaces, ``_`` and
brackets (``CredSupplied_TimeStamp(Compromised)`` = ``credsupplied_timestamp``).

Required: a user address column, the first present of ``UserMail`` (the documented name),
``UserEmail``, ``Email``, ``EmailAddress``, ``UserPrincipalName`` (the raw column
``address_column`` records which), and a delivery column: ``SuccessfullyDeliveredEmail_TimeStamp``
or ``FailedToDeliverEmail_TimeStamp`` (also ``JustSimulationMessageDelivered_TimeStamp`` /
``JustSimulationMessageFailed_TimeStamp``, which the same table documents for simulations without
training). Optional: ``UserName``, ``SimulationName`` (not documented), ``Compromised``,
``Last Simulation Activity``, ``EmailLinkClicked_{TimeStamp,IP,Browser,Device,ClickSource}``,
``AttachmentOpened_*``, ``AttachmentLinkClicked_*``, ``CredSupplied_*``,
``Message{Read,Deleted,Replied,Forwarded}_TimeStamp`` and ``Phishing Reported On``; every cell of
the row is also kept in the raw ``record`` (JSON, header → value).

Mapping (staging views): delivered → status ``delivered`` with ``delivered_at``; failed → status
``bounced`` with ``bounced_at`` (reason: delivery failed); a row with neither is ``sent`` (the
delivery result is unknown). Interactions: MessageRead → opened, EmailLinkClicked /
AttachmentLinkClicked / AttachmentOpened → clicked (IP, user agent text ``Browser (Device)``,
ClickSource in the detail), CredSupplied → entered_data, MessageReplied → replied, Phishing Reported
On → reported. Deleted and forwarded times are kept in the raw table only. The export carries no
send time, Message-ID, sender or subject.

campaign = run = the row's ``SimulationName`` when the column is present and filled, else the loader
option ``campaign``, else the file name stem.

Times: UNCERTAIN (no export seen). ISO 8601 (an offset is honoured) or the en-US
``M/d/yyyy h:mm:ss AM/PM``; a time without a zone is read in ``--tz`` when given, else as UTC.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from phishtrace.errors import InputError
from phishtrace.loaders._csvutil import header_names, norm_header, read_rows
from phishtrace.registry import Loader, Parsed, Reject, SourceFile
from phishtrace.timeparse import UTC, TimeParseError, parse_any

ADDRESS_HEADERS = ("UserMail", "UserEmail", "Email", "EmailAddress", "UserPrincipalName")
DELIVERY_HEADERS = ("SuccessfullyDeliveredEmail_TimeStamp", "FailedToDeliverEmail_TimeStamp",
                    "JustSimulationMessageDelivered_TimeStamp", "JustSimulationMessageFailed_TimeStamp")

# raw time column -> accepted headers
TIMES = {
    "delivered_ts": ("SuccessfullyDeliveredEmail_TimeStamp",),
    "failed_ts": ("FailedToDeliverEmail_TimeStamp",),
    "just_sim_delivered_ts": ("JustSimulationMessageDelivered_TimeStamp",),
    "just_sim_failed_ts": ("JustSimulationMessageFailed_TimeStamp",),
    "link_clicked_ts": ("EmailLinkClicked_TimeStamp",),
    "attachment_opened_ts": ("AttachmentOpened_TimeStamp",),
    "attachment_link_clicked_ts": ("AttachmentLinkClicked_TimeStamp",),
    "cred_supplied_ts": ("CredSupplied_TimeStamp(Compromised)", "CredSupplied_TimeStamp"),
    "message_read_ts": ("MessageRead_TimeStamp",),
    "message_deleted_ts": ("MessageDeleted_TimeStamp",),
    "message_replied_ts": ("MessageReplied_TimeStamp",),
    "message_forwarded_ts": ("MessageForwarded_TimeStamp",),
    "reported_ts": ("Phishing Reported On",),
}
# raw text column -> accepted headers
TEXTS = {
    "user_name": ("UserName",),
    "simulation_name": ("SimulationName",),
    "compromised": ("Compromised",),
    "last_activity": ("Last Simulation Activity",),
    "click_source": ("EmailLinkClicked_ClickSource",),
    **{f"{prefix}_{part.lower()}": (f"{source}_{part}",)
       for prefix, source in (("link_clicked", "EmailLinkClicked"), ("attachment_opened", "AttachmentOpened"),
                              ("attachment_link_clicked", "AttachmentLinkClicked"), ("cred_supplied", "CredSupplied"))
       for part in ("IP", "Browser", "Device")},
}
EXPECTED = ("an Attack simulation training user export header with a user address column (" + ", ".join(ADDRESS_HEADERS)
            + ") and a delivery column (" + " or ".join(DELIVERY_HEADERS[:2]) + ")")


def _present(header: list[str], names: tuple[str, ...]) -> str | None:
    """The normalised name of the first of `names` in the header."""
    return next((norm_header(n) for n in names if norm_header(n) in header), None)


def campaign_default(src: SourceFile) -> str:
    option = src.options.get("campaign")
    if option is not None and str(option).strip():
        return str(option).strip()
    return Path(src.path).stem


class MsAstCsv(Loader):
    name = "ms_ast_csv"
    hop = "platform"
    produces = "messages"
    recognised_by = ("CSV with a user address column (UserMail, …) and SuccessfullyDeliveredEmail_TimeStamp or "
                     "FailedToDeliverEmail_TimeStamp (Attack simulation training user export)")
    columns = {
        "campaign": "VARCHAR", "run": "VARCHAR", "address_column": "VARCHAR", "user_address": "VARCHAR",
        **{c: "VARCHAR" for c in TEXTS},
        **{c: "TIMESTAMPTZ" for c in TIMES},
        "record": "VARCHAR",
    }
    ts_column = "delivered_ts"

    def sniff(self, head: bytes, text: str) -> bool:
        names = header_names(text)
        return _present(names, ADDRESS_HEADERS) is not None and _present(names, DELIVERY_HEADERS) is not None

    def parse(self, src: SourceFile) -> Parsed:
        text = src.text()
        header, records = read_rows(src.path, text, [], expected_desc=EXPECTED)
        address = _present(header, ADDRESS_HEADERS)
        if address is None or _present(header, DELIVERY_HEADERS) is None:
            lacks = "a user address column" if address is None else "a delivery time column"
            raise InputError(src.path, 1, f"header lacks {lacks}: expected {EXPECTED}")
        display: dict[str, str] = {}
        for raw, norm in zip(next(csv.reader([text.splitlines()[0]])), header):
            display.setdefault(norm, raw.strip())
        times = {col: _present(header, names) for col, names in TIMES.items()}
        texts = {col: _present(header, names) for col, names in TEXTS.items()}
        fallback = campaign_default(src)
        naive_tz = src.tz or UTC
        rows: list[dict[str, Any]] = []
        rejects: list[Reject] = []
        for line, cells in records:
            if "__error__" in cells:
                rejects.append(Reject(line, cells["__error__"]))
                continue
            try:
                rows.append({"source_row": line,
                             **self._row(cells, display, address, times, texts, fallback, naive_tz)})
            except (TimeParseError, ValueError) as exc:
                rejects.append(Reject(line, str(exc)))
        stamps = [r[c] for r in rows for c in TIMES if r[c] is not None]
        return Parsed(rows=rows, rejects=rejects, window=(min(stamps), max(stamps)) if stamps else None)

    @staticmethod
    def _row(cells: dict[str, str], display: dict[str, str], address: str, times: dict[str, str | None],
             texts: dict[str, str | None], fallback: str, naive_tz) -> dict[str, Any]:
        user = cells[address].strip()
        if "@" not in user:
            raise ValueError(f"{display[address]} {user!r}: expected the user's e-mail address")
        out: dict[str, Any] = {"address_column": display[address], "user_address": user}
        for col, key in texts.items():
            value = cells.get(key, "").strip() if key else ""
            out[col] = value or None
        for col, key in times.items():
            value = cells.get(key, "").strip() if key else ""
            try:
                out[col] = parse_any(value, naive_tz) if value else None
            except TimeParseError as exc:
                raise ValueError(f"{display[key]}: {exc} (expected ISO 8601 or M/d/yyyy h:mm:ss AM/PM)") from None
        out["campaign"] = out["run"] = out["simulation_name"] or fallback
        out["record"] = json.dumps({display[k]: v for k, v in cells.items()}, ensure_ascii=False)
        return out
