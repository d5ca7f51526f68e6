"""Proofpoint on Demand Log API records, JSON lines: `message` (filter verdict) and `maillog` (sendmail) records.

Follows reference/formats.md §2.1.1 (message records) and §2.1.2 (maillog records):

* A line is a message record when it has `guid` / `envelope` / `filter`, a maillog record when it has an
  `sm` object (the parsed sendmail key=values; `data` holds the raw sendmail line). The optional
  collector key `type` ("message" / "maillog") is honoured when present.
* The event time is `ts` (`-0700` or `-07:00` offsets); `data`'s leading timestamp is used only when
  `ts` is absent (hand-edited fixtures make the two disagree: `ts` wins).
* A message record with several `envelope.rcpts` gives one row per recipient; a maillog `to=` line
  one row per `sm.to[]` entry (`<>` stripped); `from=` lines (no recipient) are kept once.
* `final_action` / `final_module` / `final_rule` are the top-level keys when present (an UNCERTAIN
  variant seen in Elastic fixtures), else the `filter.actions[]` entry with `isFinal`.
* `message_id`: `msg.normalizedHeader.message-id[0]`, else `msg.header.message-id[0]`, else `sm.msgid`.
* `token`: a GoPhish `rid` (7 characters) found in any `msgParts[].urls[].url`, also URL-encoded
  (`rid%3D`) or Proofpoint-URL-Defense-encoded (`rid-3D`).

The vendor → action mapping is in sql/10_staging/stg_proofpoint_pod_json.sql (docs/architecture.md).
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from phishtrace import textio
from phishtrace.loaders import _bulk
from phishtrace.registry import Loader, Parsed, Reject, SourceFile
from phishtrace.timeparse import TimeParseError, parse_iso

# rid=<7 alphanumerics> after a URL separator, plain or percent / URL-Defense encoded
_TOKEN_START = r"(?:^|[?&#;/]|%3[fF]|%26|-3F|-26)rid(?:=|%3[dD]|-3D)([A-Za-z0-9]{7})"
_TOKEN = re.compile(_TOKEN_START + r"(?![A-Za-z0-9])")
# leading ISO timestamp of a maillog `data` line
_DATA_TS = re.compile(r"^\s*(\d{4}-\d{2}-\d{2}T[0-9:.]+(?:Z|[+-]\d{2}:?\d{2})?)\s")
# keys that identify each record kind in the first line of a file
_MESSAGE_KEYS = ('"guid"', '"envelope"', '"filter"')
_MAILLOG_KEYS = ('"sm"', '"data"')


def _text(value: Any) -> str | None:
    """A source value as text: '' and None give None, non-strings their JSON."""
    if value is None:
        return None
    if isinstance(value, str):
        return value if value.strip() else None
    return orjson.dumps(value).decode()


def _first(value: Any) -> str | None:
    """First non-empty element of a header array (or the value itself)."""
    if isinstance(value, list):
        for item in value:
            text = _text(item)
            if text is not None:
                return text
        return None
    return _text(value)


def _addr(value: Any) -> str | None:
    text = _text(value)
    if text is None:
        return None
    text = text.strip().strip("<>").strip()
    return text or None


def _obj(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _urls(record: dict) -> list[str]:
    out = []
    for part in record.get("msgParts") or []:
        for item in _obj(part).get("urls") or []:
            url = item.get("url") if isinstance(item, dict) else item
            if isinstance(url, str) and url:
                out.append(url)
    return out


def _token(urls: list[str]) -> str | None:
    for url in urls:
        m = _TOKEN.search(url)
        if m:
            return m.group(1)
    return None


class ProofpointPodJson(Loader):
    name = "proofpoint_pod_json"
    hop = "filter"
    produces = "mail_events"
    recognised_by = (
        "JSON lines from the Proofpoint on Demand Log API: message records (guid, envelope, filter) "
        "and/or maillog records (sm, data)"
    )
    columns = {
        "record_type": "VARCHAR",  # message | maillog
        "guid": "VARCHAR",
        "qid": "VARCHAR",
        "ts": "VARCHAR",
        "event_ts": "TIMESTAMPTZ",
        "sender": "VARCHAR",
        "recipient": "VARCHAR",
        "message_id": "VARCHAR",
        "subject": "VARCHAR",
        "disposition": "VARCHAR",
        "final_action": "VARCHAR",
        "final_module": "VARCHAR",
        "final_rule": "VARCHAR",
        "final_source": "VARCHAR",  # top-level | actions: where final_action/module/rule come from
        "quarantine_folder": "VARCHAR",
        "quarantine_rule": "VARCHAR",
        "route_direction": "VARCHAR",
        "x_mailer": "VARCHAR",
        "urls": "JSON",
        "token": "VARCHAR",
        "sm_stat": "VARCHAR",
        "sm_dsn": "VARCHAR",
        "sm_mailer": "VARCHAR",
        "sm_relay": "VARCHAR",
        "record": "JSON",
    }
    ts_column = "event_ts"

    def sniff(self, head: bytes, text: str) -> bool:
        body = text.lstrip("\ufeff \t\r\n")
        if not body.startswith("{"):
            return False
        first = body.split("\n", 1)[0]
        if all(k in first for k in _MESSAGE_KEYS):
            return True
        # a first record larger than the head may show msgParts (base64 parts) before the other keys
        if '"msgParts"' in first and any(k in first for k in (*_MESSAGE_KEYS, '"connection"')):
            return True
        return all(k in first for k in _MAILLOG_KEYS) and re.search(r'"sm"\s*:\s*\{', first) is not None

    def bulk(self, src: SourceFile, lines: int) -> _bulk.Bulk | None:
        """DuckDB reads UTF-8 JSON lines; a line parse() would reject or read otherwise (a value of an
        unexpected JSON type, a timestamp without offset, odd white space in an address) sends the file
        to parse()."""
        if not _bulk.is_utf8(src.head):
            return None
        if not textio.head_text(src.head).lstrip("\ufeff \t\r\n").startswith("{"):
            return None
        # an address with white space other than the plain space goes to parse() (str.strip() semantics)
        params = [_TOKEN_START + "(?:[^A-Za-z0-9]|$)", _bulk.ODD_SPACE]
        return _bulk.Bulk(reader=_bulk.lines_reader(), reader_params=[str(src.path)], select=_bulk_select(),
                          params=params)

    def parse(self, src: SourceFile) -> Parsed:
        rows: list[dict[str, Any]] = []
        rejects: list[Reject] = []
        for line_no, line in src.lines():
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                rejects.append(Reject(line_no, f"not a JSON object ({exc}): expected one PoD record per line"))
                continue
            if not isinstance(record, dict):
                rejects.append(Reject(line_no, "not a JSON object: expected one PoD record per line"))
                continue
            try:
                rows.extend(self._rows(line_no, line, record))
            except (TimeParseError, ValueError) as exc:
                rejects.append(Reject(line_no, str(exc)))
            except (AttributeError, TypeError) as exc:
                rejects.append(Reject(line_no, f"unexpected record structure ({exc})"))
        return Parsed(rows=rows, rejects=rejects)

    # -- one record ---------------------------------------------------------------------------
    def _rows(self, line_no: int, line: str, record: dict) -> list[dict[str, Any]]:
        kind = record.get("type")
        if kind not in ("message", "maillog"):
            if isinstance(record.get("sm"), dict):
                kind = "maillog"
            elif any(k in record for k in ("guid", "envelope", "filter")):
                kind = "message"
            else:
                raise ValueError("neither a message record (guid, envelope, filter) nor a maillog record (sm, data)")
        ts = _text(record.get("ts"))
        if ts is None and kind == "maillog":
            m = _DATA_TS.match(str(record.get("data") or ""))
            ts = m.group(1) if m else None
        if ts is None:
            raise ValueError("record has no 'ts' timestamp")
        try:
            event_ts = parse_iso(ts, naive_tz=None)
        except TimeParseError as exc:
            raise ValueError(f"bad 'ts' timestamp: {exc}") from None
        base = dict.fromkeys(self.columns)
        base.update(source_row=line_no, record_type=kind, ts=ts, event_ts=event_ts, record=line)
        if kind == "message":
            return self._message(base, record)
        return self._maillog(base, record)

    def _message(self, base: dict[str, Any], record: dict) -> list[dict[str, Any]]:
        env = _obj(record.get("envelope"))
        flt = _obj(record.get("filter"))
        msg = _obj(record.get("msg"))
        header = _obj(msg.get("header"))
        normalized = _obj(msg.get("normalizedHeader"))
        final = next((a for a in flt.get("actions") or [] if isinstance(a, dict) and a.get("isFinal")), {})
        quarantine = _obj(flt.get("quarantine"))
        urls = _urls(record)
        base.update(
            guid=_text(record.get("guid")),
            qid=_text(flt.get("qid")),
            sender=_addr(env.get("from")),
            message_id=_first(normalized.get("message-id")) or _first(header.get("message-id")),
            subject=_first(normalized.get("subject")) or _first(header.get("subject")),
            disposition=_text(flt.get("disposition")),
            final_action=_text(record.get("final_action")) or _text(final.get("action")),
            final_module=_text(record.get("final_module")) or _text(final.get("module")),
            final_rule=_text(record.get("final_rule")) or _text(final.get("rule")),
            final_source="top-level" if _text(record.get("final_action")) else ("actions" if final else None),
            quarantine_folder=_text(quarantine.get("folder")),
            quarantine_rule=_text(quarantine.get("rule")),
            route_direction=_text(flt.get("routeDirection")),
            x_mailer=_first(header.get("x-mailer")) or _first(normalized.get("x-mailer")),
            urls=orjson.dumps(urls).decode() if urls else None,
            token=_token(urls),
        )
        rcpts = env.get("rcpts")
        recipients = [_addr(r) for r in rcpts] if isinstance(rcpts, list) else [_addr(rcpts)]
        recipients = [r for r in recipients if r] or [None]
        return [{**base, "recipient": r} for r in recipients]

    def _maillog(self, base: dict[str, Any], record: dict) -> list[dict[str, Any]]:
        sm = _obj(record.get("sm"))
        base.update(
            qid=_text(sm.get("qid")),
            sender=_addr(sm.get("from")),
            message_id=_text(sm.get("msgid")),
            sm_stat=_text(sm.get("stat")),
            sm_dsn=_text(sm.get("dsn")),
            sm_mailer=_text(sm.get("mailer")),
            sm_relay=_text(sm.get("relay")),
        )
        to = sm.get("to")
        if isinstance(to, str):
            to = to.split(",")
        recipients = [_addr(r) for r in to] if isinstance(to, list) else []
        recipients = [r for r in recipients if r] or [None]
        return [{**base, "recipient": r} for r in recipients]


# -- the bulk path: what DuckDB reads of each line (one JSON parse per line) --------------------------

_PATHS = {
    "type": "$.type", "sm": "$.sm", "guid": "$.guid", "envelope": "$.envelope", "filter": "$.filter", "ts": "$.ts",
    "qid": "$.filter.qid", "from": "$.envelope.from", "rcpts": "$.envelope.rcpts",
    "n_msgid": '$.msg.normalizedHeader."message-id"', "h_msgid": '$.msg.header."message-id"',
    "n_subject": "$.msg.normalizedHeader.subject", "h_subject": "$.msg.header.subject",
    "h_mailer": '$.msg.header."x-mailer"', "n_mailer": '$.msg.normalizedHeader."x-mailer"',
    "disposition": "$.filter.disposition", "actions": "$.filter.actions", "route": "$.filter.routeDirection",
    "q_folder": "$.filter.quarantine.folder", "q_rule": "$.filter.quarantine.rule",
    "top_action": "$.final_action", "top_module": "$.final_module", "top_rule": "$.final_rule",
    "parts": "$.msgParts",
    "sm_qid": "$.sm.qid", "sm_from": "$.sm.from", "sm_msgid": "$.sm.msgid", "sm_stat": "$.sm.stat",
    "sm_dsn": "$.sm.dsn", "sm_mailer": "$.sm.mailer", "sm_relay": "$.sm.relay", "sm_to": "$.sm.to",
}
_AT = {name: i for i, name in enumerate(_PATHS, start=1)}


# a JSON array (as DuckDB writes it: no blanks) of strings and nulls only
_PLAIN_ARRAY = r'\[(?:(?:"(?:[^"\\]|\\.)*"|null)(?:,(?:"(?:[^"\\]|\\.)*"|null))*)?\]'


def _j(name: str) -> str:
    return f"j[{_AT[name]}]"


def _plain(expr: str) -> str:
    """A JSON value that parse() reads as text or None: a string, null, or absent."""
    return f"({expr} IS NULL OR {expr} = 'null' OR starts_with({expr}, '\"'))"


def _str(expr: str) -> str:
    """_text() of a JSON value that is _plain()."""
    return _bulk.text(f"CASE WHEN starts_with({expr}, '\"') THEN {expr} ->> '$' END")


def _elements(expr: str) -> str:
    return f"CASE WHEN starts_with({expr}, '[') THEN json_extract({expr}, '$[*]') END"


def _all_plain(expr: str) -> str:
    """A JSON value that is _plain() or an array of _plain() values."""
    return (f"CASE WHEN {_plain(expr)} THEN true WHEN regexp_full_match({expr}, '{_PLAIN_ARRAY}') THEN true "
            f"WHEN starts_with({expr}, '[') THEN len(list_filter({_elements(expr)}, lambda x: NOT {_plain('x')})) = 0 "
            "ELSE false END")


def _first_sql(expr: str) -> str:
    """_first() of an _all_plain() JSON value."""
    return (f"CASE WHEN starts_with({expr}, '[') THEN coalesce({_bulk.text(f'({expr} ->> 0)')}, "
            f"list_filter(list_transform({_elements(expr)}, lambda x: {_str('x')}), lambda x: x IS NOT NULL)[1]) "
            f"ELSE {_str(expr)} END")


def _addrs(expr: str) -> str:
    """_addr() of each of a list of VARCHAR (NULL when nothing is left), when none holds odd white space."""
    return f"list_transform({expr}, lambda x: nullif(trim(trim(trim(x), '<>')), ''))"


# the objects whose members the bulk query reads: a key repeated in one of them is read first-wins by
# DuckDB and last-wins by orjson
_OBJECTS = ("$", "$.envelope", "$.msg", "$.msg.header", "$.msg.normalizedHeader", "$.filter", "$.filter.quarantine",
            "$.sm")


def _bulk_select() -> str:
    plain = ["type", "guid", "ts", "qid", "disposition", "route", "q_folder", "q_rule", "top_action",
             "top_module", "top_rule", "sm_qid", "from", "sm_from", "sm_msgid", "sm_stat", "sm_dsn", "sm_mailer", "sm_relay"]
    arrays = ["rcpts", "n_msgid", "h_msgid", "n_subject", "h_subject", "h_mailer", "n_mailer", "sm_to"]
    # filter.actions: an array of objects whose isFinal is a JSON boolean (or absent / null)
    a_fields = " OR ".join(f"NOT {_plain(f'(a -> {k!r})')}" for k in ("$.action", "$.module", "$.rule"))
    actions_ok = (f"({_j('actions')} IS NULL OR {_j('actions')} = 'null' OR starts_with({_j('actions')}, '[') AND "
                  f"len(list_filter({_elements(_j('actions'))}, lambda a: NOT starts_with(a, '{{') OR "
                  f"coalesce((a -> '$.isFinal'), 'null') NOT IN ('true', 'false', 'null') OR {a_fields})) = 0)")
    # msgParts: an array of objects, each with urls absent / null / an array
    parts_ok = (f"({_j('parts')} IS NULL OR {_j('parts')} = 'null' OR starts_with({_j('parts')}, '[') AND "
                f"len(list_filter({_elements(_j('parts'))}, lambda p: NOT starts_with(p, '{{') OR NOT "
                f"(coalesce((p -> '$.urls'), 'null') = 'null' OR starts_with((p -> '$.urls'), '[')))) = 0)")
    url_items = f"json_extract({_j('parts')}, '$[*].urls[*]')"
    urls = (f"list_filter(list_transform({url_items}, lambda u: CASE WHEN starts_with(u, '{{') THEN "
            f"CASE WHEN starts_with((u -> '$.url'), '\"') THEN (u ->> '$.url') END "
            f"WHEN starts_with(u, '\"') THEN (u ->> '$') END), lambda u: u IS NOT NULL AND u <> '')")
    final = (f"list_filter({_elements(_j('actions'))}, lambda a: (a -> '$.isFinal') = 'true')[1]")
    kind = (f"CASE WHEN {_str(_j('type'))} IN ('message', 'maillog') THEN {_str(_j('type'))} "
            f"WHEN starts_with({_j('sm')}, '{{') THEN 'maillog' "
            f"WHEN {_j('guid')} IS NOT NULL OR {_j('envelope')} IS NOT NULL OR {_j('filter')} IS NOT NULL "
            f"THEN 'message' END")
    rcpts = (f"CASE WHEN starts_with({_j('rcpts')}, '[') THEN list_transform({_elements(_j('rcpts'))}, lambda x: (x ->> '$')) "
             f"ELSE [CASE WHEN starts_with({_j('rcpts')}, '\"') THEN {_j('rcpts')} ->> '$' END] END")
    to = (f"CASE WHEN starts_with({_j('sm_to')}, '[') THEN list_transform({_elements(_j('sm_to'))}, lambda x: (x ->> '$')) "
          f"WHEN starts_with({_j('sm_to')}, '\"') THEN string_split({_j('sm_to')} ->> '$', ',') ELSE [] END")
    ok = " AND ".join([*(_plain(_j(n)) for n in plain), *(_all_plain(_j(n)) for n in arrays), actions_ok, parts_ok])
    paths = "[" + ", ".join(f"'{p}'" for p in _PATHS.values()) + "]"
    msg = "kind = 'message'"
    sender = _addrs(f'[CASE WHEN {msg} THEN "from" ELSE sm_from END]') + "[1]"
    f_fields = ", ".join(f"{_str(f'(f -> {p!r})')} AS f_{k}" for k, p in
                         (("action", "$.action"), ("module", "$.module"), ("rule", "$.rule")))
    return f"""
        SELECT source_row, kind AS record_type,
               CASE WHEN {msg} THEN guid END AS guid,
               CASE WHEN {msg} THEN qid ELSE sm_qid END AS qid,
               ts, event_ts,
               {sender} AS sender,
               unnest(CASE WHEN len(list_filter(rcpt_list, lambda x: x IS NOT NULL)) = 0 THEN [NULL]
                           ELSE list_filter(rcpt_list, lambda x: x IS NOT NULL) END) AS recipient,
               CASE WHEN {msg} THEN coalesce(n_msgid, h_msgid) ELSE sm_msgid END AS message_id,
               CASE WHEN {msg} THEN coalesce(n_subject, h_subject) END AS subject,
               CASE WHEN {msg} THEN disposition END AS disposition,
               CASE WHEN {msg} THEN coalesce(top_action, f_action) END AS final_action,
               CASE WHEN {msg} THEN coalesce(top_module, f_module) END AS final_module,
               CASE WHEN {msg} THEN coalesce(top_rule, f_rule) END AS final_rule,
               CASE WHEN {msg} THEN CASE WHEN top_action IS NOT NULL THEN 'top-level'
                                         WHEN f IS NOT NULL THEN 'actions' END END AS final_source,
               CASE WHEN {msg} THEN q_folder END AS quarantine_folder,
               CASE WHEN {msg} THEN q_rule END AS quarantine_rule,
               CASE WHEN {msg} THEN route END AS route_direction,
               CASE WHEN {msg} THEN coalesce(h_mailer, n_mailer) END AS x_mailer,
               CASE WHEN {msg} AND len(urls) > 0 THEN to_json(urls) END AS urls,
               CASE WHEN {msg} THEN list_filter(list_transform(urls, lambda u: regexp_extract(u, ?, 1)), lambda t: t <> '')[1]
                    END AS token,
               CASE WHEN NOT {msg} THEN sm_stat END AS sm_stat,
               CASE WHEN NOT {msg} THEN sm_dsn END AS sm_dsn,
               CASE WHEN NOT {msg} THEN sm_mailer END AS sm_mailer,
               CASE WHEN NOT {msg} THEN sm_relay END AS sm_relay,
               line AS record,
               NOT ok OR kind IS NULL OR ts IS NULL OR event_ts IS NULL OR odd_space AS _bad
        FROM (SELECT *, {_bulk.iso_utc('ts', zoned=True)} AS event_ts, {f_fields},
                     CASE WHEN {msg} THEN {_addrs('raw_rcpts')} ELSE {_addrs('raw_to')} END AS rcpt_list,
                     regexp_matches(concat_ws(' ', list_aggregate(raw_rcpts, 'string_agg', ' '),
                                              list_aggregate(raw_to, 'string_agg', ' '), "from", sm_from), ?) AS odd_space
              FROM (SELECT n AS source_row, line, {kind} AS kind, {ok} AND json_ok AS ok,
                           {', '.join(f"{_str(_j(n))} AS {n}" for n in plain if n != "type")},
                           {', '.join(f"{_first_sql(_j(n))} AS {n}" for n in arrays[1:7])},
                           {final} AS f,
                           {urls} AS urls, {rcpts} AS raw_rcpts, {to} AS raw_to
                    FROM (SELECT n, line, json_extract(line, {paths}) AS j, {_bulk.json_ok(_OBJECTS)} AS json_ok
                          FROM {_bulk.numbered()}
                          WHERE {_bulk.text('line')} IS NOT NULL)))"""
