"""The bulk path of gmail_bigquery_json (phishtrace.loaders.gmail): the SQL that reads its
newline-delimited records (nested `event_info` / `message_info` records, or BigQuery REST rows one per
line) as GmailBigQueryJson.parse() does, with every line parse() would read otherwise marked bad."""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from phishtrace import textio
from phishtrace.loaders import _bulk
from phishtrace.registry import SourceFile

# the BigQuery field types of a record (its cells are a nested `f` list)
RECORD_TYPES = ("RECORD", "STRUCT")


def plan(src: SourceFile, lines: int, columns: dict[str, str]) -> _bulk.Bulk | None:
        """DuckDB reads newline-delimited records: nested `event_info` / `message_info` records, or
        BigQuery REST rows that each carry the first line's schema (or none). One-document files (a
        JSON array, a jobs.query response) and any line parse() would read otherwise go to parse()."""
        if not _bulk.is_utf8(src.head):
            return None
        line = _first_line(src.head)
        try:
            first = orjson.loads(line) if line is not None and line.strip().startswith("{") else None
        except orjson.JSONDecodeError:
            first = None
        if not isinstance(first, dict) or "rows" in first and "schema" in first:
            return None
        if "row" in first:
            schema = first.get("schema")
            layout = _rest_layout(schema, _schema_suffix(line, schema)) if isinstance(schema, dict) else None
        elif "event_info" in first or "message_info" in first:
            layout = _NESTED
        else:
            layout = None
        if layout is None:
            return None
        select, params = _bulk_select(layout, columns)
        return _bulk.Bulk(reader=_bulk.lines_reader(), reader_params=[str(src.path)], select=select,
                          params=params, lines_read=lines)


# -- the bulk path: what DuckDB reads of each line ---------------------------------------------------

# the raw columns read from one record, by their path of names (`_rows`)
_SCALARS = {
    "timestamp_usec": ("event_info", "timestamp_usec"),
    "mail_event_type": ("event_info", "mail_event_type"),
    "success": ("event_info", "success"),
    "action_type": ("message_info", "action_type"),
    "message_id": ("message_info", "rfc2822_message_id"),
    "subject": ("message_info", "subject"),
    "source_address": ("message_info", "source", "address"),
    "from_header_address": ("message_info", "source", "from_header_address"),
    "source_service": ("message_info", "source", "service"),
    "is_spam": ("message_info", "is_spam"),
    "spam_disposition": ("message_info", "spam_info", "disposition"),
    "spam_classification_reason": ("message_info", "spam_info", "classification_reason"),
    "smtp_reply_code": ("message_info", "connection_info", "smtp_reply_code"),
    "description": ("message_info", "description"),
    "post_delivery_action_type": ("message_info", "post_delivery_info", "action_type"),
    "link_url": ("message_info", "post_delivery_info", "interaction", "link_url"),
}
_DESTINATIONS = ("message_info", "destination")
_DESTINATION_FIELDS = {"recipient": "address", "destination_service": "service", "rcpt_response": "rcpt_response"}
_RULES = ("message_info", "triggered_rule_info")
_RULE_NAME = "rule_name"

# an integer _text() writes as DuckDB does (orjson reads longer ones as floats)
_INTEGER = "0|-?[1-9][0-9]{0,17}"


@dataclass
class _Layout:
    """Where one line's values are: JSON paths in the line (None: never present), and per record of
    a repeated field (destination, triggered rule) the path of its records and of their values."""

    scalars: dict[str, str | None]
    destinations: str | None
    destination_fields: dict[str, str | None]
    rules: str | None
    rule_name: str | None
    records: str  # the records of a repeated field, relative to its array: '$[*]' or '$[*].v'
    schema: dict | None = None  # REST rows: the schema every line carries (or leaves out) ...
    suffix: str = ""  # ... as its last key, written as on the first line: ',"schema":{…}}'


def _named(names: tuple[str, ...]) -> str:
    return "$." + ".".join(names)


_NESTED = _Layout(
    scalars={col: _named(path) for col, path in _SCALARS.items()},
    destinations=_named(_DESTINATIONS),
    destination_fields={col: "$." + name for col, name in _DESTINATION_FIELDS.items()},
    rules=_named(_RULES),
    rule_name="$." + _RULE_NAME,
    records="$[*]",
)
# the objects whose values a nested record gives (a repeated key: DuckDB reads the first, parse() the last)
_OBJECTS = sorted({path[:i] for path in (*_SCALARS.values(), _DESTINATIONS, _RULES) for i in range(len(path))})


def _first_line(head: bytes) -> str | None:
    """The first non-blank line of a file when the head holds all of it (parse() reads a file whose
    first record is a JSON object on that line one line at a time), else None."""
    pieces = textio.head_text(head).lstrip("\ufeff").split("\n")
    whole = len(head) < textio.HEAD_BYTES
    for i, piece in enumerate(pieces):
        if piece.strip():
            return piece.removesuffix("\r") if i < len(pieces) - 1 or whole else None
    return None


# -- BigQuery REST rows: values by their position in the schema -------------------------------------

class _Unsupported(Exception):
    """A schema the bulk query does not decode (parse() reads the file)."""


def _is_record(field: dict) -> bool:
    return str(field.get("type", "")).upper() in RECORD_TYPES


def _repeated(field: dict) -> bool:
    return field.get("mode") == "REPEATED"


def _subfields(field: dict) -> list[dict]:
    fields = field.get("fields") or []
    if not isinstance(fields, list) or not all(isinstance(f, dict) and isinstance(f.get("name"), str) for f in fields):
        raise _Unsupported
    for sub in fields:
        if _is_record(sub):
            _subfields(sub)
    return fields


def _position(fields: list[dict], names: tuple[str, ...], path: str, leaf: str) -> tuple[str, dict] | None:
    """(JSON path, field) of the cell value `names` decodes to below `path` (the last field of a name,
    as decode_value() keeps it), or None when the schema lacks it. The fields on the way must be plain
    records, the last a plain scalar (leaf 'scalar') or a repeated record (leaf 'records')."""
    for depth, name in enumerate(names):
        at = max((i for i, f in enumerate(fields) if f["name"] == name), default=None)
        if at is None:
            return None
        field, path = fields[at], f"{path}.f[{at}].v"
        if depth < len(names) - 1:
            if not _is_record(field) or _repeated(field):
                raise _Unsupported
            fields = _subfields(field)
        elif leaf == "records" and not (_is_record(field) and _repeated(field)):
            raise _Unsupported
        elif leaf == "scalar" and (_is_record(field) or _repeated(field)):
            raise _Unsupported
    return path, field


def _schema_suffix(line: str, schema: dict) -> str | None:
    """',"schema":…}' of a first line written '{"row":…,"schema":…}' (the schema as written), else None."""
    at = line.rfind(',"schema":')
    if at < 0 or not line.startswith('{"row":') or not line.endswith("}"):
        return None
    try:
        return line[at:] if orjson.loads(line[at + len(',"schema":'):-1]) == schema else None
    except orjson.JSONDecodeError:
        return None


def _rest_layout(schema: dict, suffix: str | None) -> _Layout | None:
    """The layout of REST rows decoded by `schema` whose lines end with `suffix` (or carry no schema);
    None when the bulk query cannot decode them."""
    if suffix is None:
        return None

    def scalar(fields: list[dict], names: tuple[str, ...], path: str) -> str | None:
        found = _position(fields, names, path, "scalar")
        return found[0] if found else None

    try:
        fields = _subfields({"fields": schema.get("fields")})
        if not fields:
            return None
        (destinations, dest), (rules, rule) = (_position(fields, names, "$.row", "records") or (None, {})
                                               for names in (_DESTINATIONS, _RULES))
        return _Layout(
            scalars={col: scalar(fields, names, "$.row") for col, names in _SCALARS.items()},
            destinations=destinations,
            destination_fields={col: scalar(_subfields(dest), (name,), "$") for col, name in _DESTINATION_FIELDS.items()},
            rules=rules,
            rule_name=scalar(_subfields(rule), (_RULE_NAME,), "$"),
            records="$[*].v",
            schema=schema,
            suffix=suffix,
        )
    except _Unsupported:
        return None


def _decodes(src: str, path: str, fields: list[dict], depth: int = 0) -> str:
    """SQL: true when decode_value() reads the record value at `path` of the JSON text `src` through
    `fields` without an error: each record null or an object whose `f` holds one cell per field, each
    repeated value null or an array, each item of a repeated record null or a cell holding such a
    record, all the way down. (A falsy value parse() reads as an empty list counts as an error too.)
    One json_type(), json_array_length() and json_extract() of `src` read the values of each level."""
    typed: list[str] = []  # paths whose JSON type is read
    sized: list[str] = []  # paths whose array length is read
    arrays: list[str] = []  # repeated records, whose items are checked one level down
    checks: list[str] = []
    b, x = f"b{depth}", f"x{depth}"

    def at(paths: list[str], p: str) -> int:
        paths.append(p)
        return len(paths)

    def record(p: str, subs: list[dict]) -> None:
        t, tf, n = at(typed, p), at(typed, p + ".f"), at(sized, p + ".f")
        checks.append(f"({b}.t[{t}] IS NULL OR {b}.t[{t}] = 'NULL' OR "
                      f"({b}.t[{t}] = 'OBJECT' AND {b}.t[{tf}] = 'ARRAY' AND {b}.n[{n}] = {len(subs)}))")
        for i, sub in enumerate(subs):
            cell = f"{p}.f[{i}].v"
            if _repeated(sub):
                t = at(typed, cell)
                checks.append(f"({b}.t[{t}] IS NULL OR {b}.t[{t}] IN ('NULL', 'ARRAY'))")
                if _is_record(sub):
                    item = _decodes(x, "$.v", _subfields(sub), depth + 1)
                    a = at(arrays, cell)
                    checks.append(f"({b}.t[{t}] IS DISTINCT FROM 'ARRAY' OR len(list_filter("
                                  f"json_extract({b}.a[{a}], '$[*]')::VARCHAR[], lambda {x}: NOT coalesce("
                                  f"{x} = 'null' OR starts_with({x}, '{{') AND {item}, false))) = 0)")
            elif _is_record(sub):
                record(cell, _subfields(sub))

    record(path, fields)
    listed = lambda paths: "[" + ", ".join(f"'{p}'" for p in paths) + "]"  # noqa: E731
    values = [f"t := json_type({src}, {listed(typed)})", f"n := json_array_length({src}, {listed(sized)})"]
    if arrays:
        values.append(f"a := json_extract({src}, {listed(arrays)})::VARCHAR[]")
    return (f"coalesce(list_transform([struct_pack({', '.join(values)})], "
            f"lambda {b}: {' AND '.join(checks)})[1], false)")


# -- the query ------------------------------------------------------------------------------------

def _value(x: str) -> str:
    """_text() of a JSON value (VARCHAR JSON text, NULL when absent) that is a string, a boolean or an
    integer; NULL for any other (_read() tells a null from a value _text() writes otherwise)."""
    return (f"CASE WHEN starts_with({x}, '\"') THEN {x} ->> '$' "
            f"WHEN {x} IN ('true', 'false') OR regexp_full_match({x}, '{_INTEGER}') THEN {x} END")


def _read(value: str, x: str) -> str:
    """SQL: true when the column `value` (_value() of `x`) is what _text() gives: x absent or null, or
    a value _value() reads."""
    return f"({value} IS NOT NULL OR {x} IS NULL OR {x} = 'null')"


def _bulk_select(layout: _Layout, columns: dict[str, str]) -> tuple[str, list]:
    """Bulk.select and its params: one row per destination record of each non-blank line."""
    paths: list[str] = []

    def j(path: str | None) -> str:
        if path is None:
            return "NULL::VARCHAR"
        if path not in paths:
            paths.append(path)
        return f"j[{paths.index(path) + 1}]"

    raw = {col: j(path) for col, path in layout.scalars.items()}
    dests, rules = j(layout.destinations), j(layout.rules)
    dest_paths = [p for p in layout.destination_fields.values() if p is not None]
    dest_raw = {col: (f"v[{dest_paths.index(p) + 1}]" if p is not None else "NULL::VARCHAR")
                for col, p in layout.destination_fields.items()}
    records = lambda arr: (f"list_filter(json_extract({arr}, '{layout.records}')::VARCHAR[], "  # noqa: E731
                           "lambda e: starts_with(e, '{'))")
    dest_list = (f"list_transform({records(dests)}, lambda e: json_extract(e, "
                 f"[{', '.join(repr(p) for p in dest_paths)}])::VARCHAR[])" if dest_paths else
                 f"list_transform({records(dests)}, lambda e: []::VARCHAR[])")
    rule_list = (f"list_transform({records(rules)}, lambda e: json_extract(e, '{layout.rule_name}')::VARCHAR)"
                 if layout.rule_name else "[]::VARCHAR[]")
    params: list = []
    if layout.schema is None:  # nested records
        mi = _OBJECTS.index(("message_info",)) + 1
        shape = [f"{j('$.row')} IS NULL", f"{j('$.rows')} IS NULL",
                 *(f"({a} IS NULL OR {a} = 'null' OR starts_with({a}, '['))" for a in (dests, rules)),
                 _bulk.no_repeated_keys("k"), f"(k[{mi}] IS NULL OR len(k[{mi}]) > 0)",
                 *(_bulk.no_repeated_keys(f"CASE WHEN starts_with({a}, '[') THEN json_keys({a}, '$[*]') END")
                   for a in (dests, rules))]
        keys = "json_keys(line, [" + ", ".join(f"'{_named(p) if p else '$'}'" for p in _OBJECTS) + "]) AS k"
        checked = "line"
    else:
        # REST rows: each line '{"row":…}' or '{"row":…,"schema":…}' ending with the first line's schema as
        # written, the row's text (`checked`) holding no comma before a key: every object in it has one key
        # at most (a cell `v`, a record `f`; so none repeats one, and the line has no key but row and schema)
        shape = ["starts_with(line, '{\"row\":')", "ends_with(line, '}')",
                 "NOT regexp_matches(checked, ',[ \\t\\r\\n]*\"')",
                 _decodes(j("$.row"), "$", layout.schema["fields"])]
        keys = "NULL AS k"
        checked = "CASE WHEN ends_with(line, ?) THEN substr(line, 8, length(line) - 7 - ?) ELSE substr(line, 8, length(line) - 8) END"
        params += [layout.suffix, len(layout.suffix)]
    scalars = ", ".join(f"{_value(x)} AS {col}" for col, x in raw.items())
    values_ok = " AND ".join(_read(col, x) for col, x in raw.items())
    dest_values = ", ".join(f"{_value(x)} AS {col}" for col, x in dest_raw.items())
    dest_ok = " AND ".join(_read(col, x) for col, x in dest_raw.items())
    # a rule name "|".join() takes: text (or nothing)
    rules_ok = "len(list_filter(rule_raw, lambda x: NOT (x IS NULL OR x = 'null' OR starts_with(x, '\"')))) = 0"
    select = f"""
        SELECT source_row, {', '.join(columns)},
               NOT coalesce(line_ok AND {values_ok} AND {rules_ok} AND {dest_ok}, false) OR event_ts IS NULL AS _bad
        FROM (SELECT *, {dest_values}
              FROM (SELECT *, CASE WHEN regexp_full_match(timestamp_usec, '[0-9]{{1,16}}')
                                   THEN timezone('UTC', make_timestamp(CAST(timestamp_usec AS BIGINT))) END AS event_ts,
                           nullif(array_to_string(list_filter(list_transform(rule_raw, lambda x: {_value('x')}),
                                                              lambda x: x <> ''), '|'), '') AS triggered_rules,
                           unnest(CASE WHEN dest_raw IS NULL OR len(dest_raw) = 0 THEN [NULL::VARCHAR[]]
                                       ELSE dest_raw END) AS v
                    FROM (SELECT source_row, j, {scalars}, {" AND ".join([_bulk.strict_json("checked"), *shape])} AS line_ok,
                                 {dest_list} AS dest_raw, coalesce({rule_list}, []) AS rule_raw
                          FROM (SELECT n AS source_row, line, json_extract(line, [{', '.join(f"'{p}'" for p in paths)}])::VARCHAR[] AS j,
                                       {keys}, {checked} AS checked
                                FROM {_bulk.numbered()}
                                WHERE {_bulk.text('line')} IS NOT NULL))))"""
    return select, params
