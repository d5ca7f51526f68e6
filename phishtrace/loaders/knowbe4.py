"""KnowBe4 Reporting API recipients (formats.md §1.2, §4.1, §5.1): ``knowbe4_recipients_json``.

Input: the records of ``GET /v1/phishing/security_tests/{pst_id}/recipients``, as the response array,
as JSON lines (one record, or one response page, per line), or as one pretty-printed record. A record
is ``{recipient_id, pst_id, user{id, provisioning_guid | active_directory_guid, first_name, last_name,
email}, template{id, name, difficulty, type}, scheduled_at, delivered_at, opened_at, clicked_at,
replied_at, attachment_opened_at, macro_enabled_at, data_entered_at, qr_code_scanned, reported_at,
bounced_at, ip, ip_location, browser, browser_version, os}``. Every event is a UTC timestamp
(``2023-03-06T17:15:04.000Z``) or null; a timestamp without a zone is refused. Keys are matched
exactly (the API's own spelling); other keys (older clients' ``vulnerable-plugins_at``,
``exploited_at``) are kept in the raw ``record`` only.

There is no status enum: the staging view derives the status from the non-null timestamps (the
furthest one reached, §5.1) and keeps the names of the non-null ones as ``platform_status``.
campaign = ``pst_id`` (the loader option ``campaign`` may name it instead); run = ``pst_id``, so the
phishing security tests of one recurring campaign are its runs. KnowBe4 exports no send time,
Message-ID, sender or subject (``template.name`` is not the subject): ``sent_at`` stays NULL and
``delivered_at`` is the time the intermediate models use as the send time. ``source_row`` is the
record number in a JSON document, or the line number in JSON lines.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from phishtrace.errors import InputError
from phishtrace.loaders._json_records import read_documents
from phishtrace.registry import Loader, Parsed, Reject, SourceFile
from phishtrace.timeparse import TimeParseError, parse_iso

TIME_FIELDS = (
    "scheduled_at", "delivered_at", "opened_at", "clicked_at", "replied_at", "attachment_opened_at",
    "macro_enabled_at", "data_entered_at", "qr_code_scanned", "reported_at", "bounced_at",
)
CLIENT_FIELDS = ("ip", "ip_location", "browser", "browser_version", "os")
EXPECTED = ("KnowBe4 GET /v1/phishing/security_tests/{pst_id}/recipients records "
            "({recipient_id, pst_id, user{email}, …_at timestamps})")


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value).strip()
    return text or None


def _time(name: str, value: Any) -> datetime | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name} {value!r}: expected a UTC timestamp such as 2023-03-06T17:15:04.000Z, or null")
    try:
        return parse_iso(value, naive_tz=None)
    except TimeParseError as exc:
        raise ValueError(f"{name}: {exc} (expected a UTC timestamp such as 2023-03-06T17:15:04.000Z)") from None


def is_recipient(value: Any) -> bool:
    return isinstance(value, dict) and ("recipient_id" in value or "user" in value)


def recipient_row(rec: dict[str, Any], option: str | None) -> dict[str, Any]:
    """Raw columns of one recipient record; ValueError says what is wrong with it."""
    user = rec.get("user")
    if not isinstance(user, dict):
        raise ValueError("record without a user object: expected user{id, first_name, last_name, email}")
    email = _text(user.get("email"))
    if email is None or "@" not in email:
        raise ValueError(f"user.email {user.get('email')!r}: expected an e-mail address")
    pst_id = _text(rec.get("pst_id"))
    if pst_id is None and option is None:
        raise ValueError("record without pst_id: name the test with the loader option 'campaign'")
    template = rec.get("template") if isinstance(rec.get("template"), dict) else {}
    row: dict[str, Any] = {
        "campaign": option or pst_id,
        "run": pst_id or option,
        "pst_id": pst_id,
        "recipient_id": _text(rec.get("recipient_id")),
        "user_id": _text(user.get("id")),
        "provisioning_guid": _text(user.get("provisioning_guid", user.get("active_directory_guid"))),
        "first_name": _text(user.get("first_name")),
        "last_name": _text(user.get("last_name")),
        "email": email,
        "template_id": _text(template.get("id")),
        "template_name": _text(template.get("name")),
        "template_difficulty": _text(template.get("difficulty")),
        "template_type": _text(template.get("type")),
        **{f: _text(rec.get(f)) for f in CLIENT_FIELDS},
        **{f: _time(f, rec.get(f)) for f in TIME_FIELDS},
        "record": json.dumps(rec, ensure_ascii=False, separators=(",", ":")),
    }
    return row


class KnowBe4RecipientsJson(Loader):
    name = "knowbe4_recipients_json"
    hop = "platform"
    produces = "messages"
    recognised_by = ("JSON (array, lines or one object) of KnowBe4 phishing security test recipients "
                     "with recipient_id, pst_id and …_at timestamps")
    columns = {
        "campaign": "VARCHAR", "run": "VARCHAR", "pst_id": "VARCHAR", "recipient_id": "VARCHAR",
        "user_id": "VARCHAR", "provisioning_guid": "VARCHAR", "first_name": "VARCHAR", "last_name": "VARCHAR",
        "email": "VARCHAR", "template_id": "VARCHAR", "template_name": "VARCHAR",
        "template_difficulty": "VARCHAR", "template_type": "VARCHAR",
        **{f: "VARCHAR" for f in CLIENT_FIELDS},
        **{f: "TIMESTAMPTZ" for f in TIME_FIELDS},
        "record": "VARCHAR",
    }
    ts_column = "delivered_at"

    def sniff(self, head: bytes, text: str) -> bool:
        t = text.lstrip("\ufeff \t\r\n")
        return (t.startswith(("{", "[")) and '"recipient_id"' in t and '"pst_id"' in t
                and ('"delivered_at"' in t or '"scheduled_at"' in t))

    def parse(self, src: SourceFile) -> Parsed:
        option = _text(src.options.get("campaign"))
        values, rejects, single = read_documents(src, EXPECTED)
        rows: list[dict[str, Any]] = []
        counter = 0
        for pos, value in values:
            for rec in value if isinstance(value, list) else [value]:
                counter += 1
                row_no = counter if single else pos
                where = f"record {counter}" if single else f"line {pos}"
                if not is_recipient(rec):
                    got = f"keys {', '.join(list(rec)[:6])}" if isinstance(rec, dict) else type(rec).__name__
                    raise InputError(src.path, pos, f"{where} is not a recipient record ({got}): expected {EXPECTED}")
                try:
                    rows.append({"source_row": row_no, **recipient_row(rec, option)})
                except ValueError as exc:
                    rejects.append(Reject(row_no, f"{where}: {exc}"))
        times = [r[f] for r in rows for f in TIME_FIELDS if r[f] is not None]
        return Parsed(rows=rows, rejects=rejects, window=(min(times), max(times)) if times else None)
