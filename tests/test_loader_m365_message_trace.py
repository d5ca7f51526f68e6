"""Tests of the m365_message_trace loader and stg_m365_message_trace.

Real fixtures (../shared/fixtures/real/m365_message_trace): Elastic's Reporting Web Service JSON lines,
formats.md §3.1.1 (one with a `Received` lacking the `Z` and a trailing empty OData page line).

Own samples in tests/data/m365_message_trace, each following formats.md:
* export_csv_ps_type.csv: `Get-MessageTrace | Export-Csv` over remoting, §3.1.1 (the `#TYPE` line, the
  PSComputerName/RunspaceId/PSShowComputerName header recorded there, en-US culture dates from the
  "Timestamps" notes); one row per status value of the §3.1.1 list.
* v2_export.csv: `Get-MessageTraceV2 | Export-Csv`, §3.1.1, without #TYPE, PS columns, Organization,
  Index, StartDate, EndDate; ISO dates with 7 fractional digits, with and without `Z`.
* eac_summary_utf16le_bom.csv, eac_summary_utf8_bom.csv, eac_summary_utf8_zoned.csv: EAC download, §3.1.4
  (UI columns Date, Sender, Recipient, Subject, Status; UTF-16 LE with BOM / UTF-8; times in the
  admin's zone unless stated).
* graph_page.json, graph_records.jsonl: Microsoft Graph exchangeMessageTrace, §3.1.2.
* reporting_records_array.json, reporting_odata_page.json: Reporting Web Service records / OData page, §3.1.1.
"""

from __future__ import annotations

import codecs
from datetime import datetime, timezone
from pathlib import Path

import pytest

from phishtrace import registry, textio
from phishtrace.errors import InputError

DATA = Path(__file__).parent / "data" / "m365_message_trace"
UTC = timezone.utc
FMT = "m365_message_trace"

COLS = "source_row, event_ts, message_id, vendor_id, sender, recipient, subject, action, location, raw_status"


def ts(*parts) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def events(ws, load_id=None):
    where = "" if load_id is None else f"WHERE load_id = {int(load_id)}"
    return ws.sql(f"SELECT {COLS} FROM stg_m365_message_trace {where} ORDER BY load_id, source_row").rows(named=True)


def manifest(ws):
    return ws.sql("SELECT rows_loaded, rows_rejected, tz_assumption, window_start, window_end FROM load_manifest "
                  "ORDER BY load_id").rows(named=True)


def assert_nothing_loaded(ws):
    assert ws.sql("SELECT count(*) AS n FROM raw_m365_message_trace")["n"][0] == 0
    assert ws.sql("SELECT count(*) AS n FROM load_manifest")["n"][0] == 0
    assert ws.sql("SELECT count(*) AS n FROM load_rejects")["n"][0] == 0


# -- real fixtures ---------------------------------------------------------------------------

def test_real_test_log_values_and_window(ws, real):
    path = real / "m365_message_trace" / "elastic_exo_message_trace_test-log.log"
    (res,) = ws.ingest("c", [path])
    assert res.format == FMT and res.rows == 4 and res.rejects == 0
    rows = events(ws)
    assert [r["source_row"] for r in rows] == [1, 2, 3, 4]
    first = rows[0]
    # "Received":"2022-09-05T18:10:13.4907658" has no zone: UTC, cut to microseconds
    assert first["event_ts"] == ts(2022, 9, 5, 18, 10, 13, 490765)
    assert first["message_id"] == "a210cf91-4f2e-484c-8ada-3b27064ee5e3@az.uksouth.production.microsoft.com"
    assert first["vendor_id"] == "cf7a249a-5edd-4350-130a-08da8f69e0f6"
    assert first["sender"] == "azure-noreply@azure.microsoft.com"
    assert first["recipient"] == "linus@contoso.com"
    assert first["subject"] == "PIM: A privileged directory role was assigned outside of PIM"
    assert (first["action"], first["location"], first["raw_status"]) == ("delivered", None, "Delivered")
    second = rows[1]
    assert second["event_ts"] == ts(2022, 10, 21, 17, 25, 30, 600688)
    # local part keeps its case, the domain part is lower-cased, brackets (\u003c \u003e) are gone
    assert second["message_id"] == "GVAP278MB037518E76F4082DFE9B607B3DA2D9@gvap278mb0375.chep278.prod.outlook.com"
    assert second["vendor_id"] == "a6f62809-5cda-4454-0962-08dab38940d6"
    assert rows[3]["sender"] == "noreply@contoso.com"
    assert {r["recipient"] for r in rows} == {"linus@contoso.com"}
    assert {(r["action"], r["location"]) for r in rows} == {("delivered", None)}
    # the window is min StartDate .. max EndDate, not the Received range
    (m,) = manifest(ws)
    assert (m["rows_loaded"], m["rows_rejected"]) == (4, 0)
    assert m["window_start"] == ts(2022, 9, 3, 21, 46, 46, 420675)
    assert m["window_end"] == ts(2022, 10, 22, 9, 40, 10)
    hops = ws.sql("SELECT DISTINCT hop, verdict_hop, source_format FROM stg_m365_message_trace").rows()
    assert hops == [("server", "server", FMT)]


def test_real_sample_logs(ws, real):
    ws.ingest("c", [real / "m365_message_trace" / "elastic_exo_message_trace_sample_logs.ndjson.log"])
    rows = events(ws)
    assert [(r["source_row"], r["event_ts"], r["vendor_id"], r["subject"]) for r in rows] == [
        (1, ts(2022, 10, 21, 17, 25, 36, 969376), "a5e6dc0f-23df-4b20-d240-08dab38944a1", "testmail 2"),
        (2, ts(2022, 10, 21, 17, 25, 30, 600688), "a6f62809-5cda-4454-0962-08dab38940d6", "testmail 1"),
    ]
    (m,) = manifest(ws)
    assert (m["window_start"], m["window_end"]) == (ts(2022, 10, 21, 9, 40, 10), ts(2022, 10, 22, 9, 40, 10))


def test_real_events_reach_int_mail_events(ws, real):
    ws.ingest("c", [real / "m365_message_trace" / "elastic_exo_message_trace_test-log.log"])
    got = ws.sql("SELECT count(*) AS n FROM int_mail_events WHERE source_format = ? AND action = 'delivered'", [FMT])
    assert got["n"][0] == 4


def test_sniff_claims_only_message_trace_files(real):
    loader = registry.get(FMT)
    files = [p for p in real.rglob("*") if p.is_file() and p.suffix != ".md"]
    samples = Path(__file__).resolve().parents[1] / "data" / "samples"
    if samples.is_dir():
        files += [p for p in samples.rglob("*") if p.is_file() and p.suffix != ".md"]
    assert files
    for path in files:
        head = path.read_bytes()[: textio.HEAD_BYTES]
        expected = path.parent.name == "m365_message_trace" or path.name.startswith("message_trace.")
        assert loader.sniff(head, textio.head_text(head)) is expected, path


def test_sniff_claims_own_samples():
    loader = registry.get(FMT)
    for path in DATA.iterdir():
        head = path.read_bytes()[: textio.HEAD_BYTES]
        assert loader.sniff(head, textio.head_text(head)), path


# -- own samples -----------------------------------------------------------------------------

STATUS_MAP = {  # docs/architecture.md, vendor mappings
    "Delivered": ("delivered", None),
    "Quarantined": ("quarantined", "quarantine"),
    "FilteredAsSpam": ("junked", "none"),
    "Failed": ("dropped", "none"),  # accepted, then delivery failed: server_failed
    "Pending": ("deferred", None),
    "Expanded": ("received", None),
    "GettingStatus": ("received", None),
    "None": ("received", None),
}


def test_export_csv_with_type_line_ps_columns_and_us_dates(ws):
    (res,) = ws.ingest("c", [DATA / "export_csv_ps_type.csv"])
    assert (res.format, res.rows, res.rejects) == (FMT, 8, 0)
    rows = events(ws)
    # line 1 is #TYPE, line 2 the header
    assert [r["source_row"] for r in rows] == list(range(3, 11))
    assert {r["raw_status"]: (r["action"], r["location"]) for r in rows} == STATUS_MAP
    first = rows[0]
    assert first["event_ts"] == ts(2026, 11, 3, 14, 5, 9)  # 11/3/2026 2:05:09 PM, UTC
    assert rows[-1]["event_ts"] == ts(2026, 11, 4, 0, 0, 1)  # 11/4/2026 12:00:01 AM
    assert first["recipient"] == "alice.smith@contoso.com"
    assert first["message_id"] == "20261103140509.4711.0@mail.phish-sim.example"
    assert first["vendor_id"] == "0b6f2c1e-5d7a-4a8e-9c31-08de1a2b3c01"
    assert first["sender"] == "hr-notice@phish-sim.example"
    assert first["subject"] == 'Action required: "Payroll", update'
    raw = ws.sql("SELECT shape, organization, size, idx, from_ip, to_ip, start_date, extra FROM raw_m365_message_trace "
                 "ORDER BY source_row LIMIT 1").rows(named=True)[0]
    assert raw["shape"] == "csv" and raw["organization"] == "contoso.onmicrosoft.com"
    assert (raw["size"], raw["idx"], raw["from_ip"], raw["to_ip"]) == ("24817", "0", "203.0.113.25", None)
    assert raw["start_date"] == "11/1/2026 12:00:00 AM"
    assert '"PSComputerName": "outlook.office365.com"' in raw["extra"]
    (m,) = manifest(ws)
    assert (m["window_start"], m["window_end"]) == (ts(2026, 11, 1), ts(2026, 11, 4, 18, 0, 0))
    assert m["tz_assumption"] == "UTC (stated by the format)"


def test_v2_csv_without_type_line_or_ps_columns(ws):
    ws.ingest("c", [DATA / "v2_export.csv"])
    rows = events(ws)
    assert [(r["source_row"], r["event_ts"], r["recipient"], r["action"]) for r in rows] == [
        (2, ts(2026, 11, 5, 9, 30, 1, 123456), "ivan.red@contoso.com", "delivered"),
        (3, ts(2026, 11, 5, 9, 30, 2, 765432), "judy.blue@contoso.com", "quarantined"),
    ]
    assert {r["message_id"] for r in rows} == {"a1b2c3d4.5e6f@phish-sim.example"}
    assert {r["vendor_id"] for r in rows} == {"7c1d9e2f-0a3b-4c5d-8e6f-08de1b2c3d01"}
    (m,) = manifest(ws)
    # no StartDate/EndDate: the window is the range of the rows
    assert (m["window_start"], m["window_end"]) == (ts(2026, 11, 5, 9, 30, 1, 123456), ts(2026, 11, 5, 9, 30, 2, 765432))


def test_eac_utf16le_bom_with_utc_date_header(ws):
    assert (DATA / "eac_summary_utf16le_bom.csv").read_bytes().startswith(codecs.BOM_UTF16_LE)
    ws.ingest("c", [DATA / "eac_summary_utf16le_bom.csv"])
    rows = events(ws)
    assert [(r["source_row"], r["event_ts"], r["recipient"], r["action"], r["location"]) for r in rows] == [
        (2, ts(2026, 11, 6, 8, 1, 2), "kim.orange@contoso.com", "delivered", None),
        (3, ts(2026, 11, 6, 8, 1, 3), "leo.purple@contoso.com", "junked", "none"),
    ]
    assert {(r["message_id"], r["vendor_id"], r["sender"]) for r in rows} == {
        ("e1@phish-sim.example", "9a8b7c6d-1111-4e2f-8a3b-08de1c2d3e01", "payroll@phish-sim.example")}
    assert ws.sql("SELECT DISTINCT shape FROM raw_m365_message_trace")["shape"].to_list() == ["eac"]


def test_eac_utf8_bom_without_zone_uses_tz(ws):
    ws.ingest("c", [DATA / "eac_summary_utf8_bom.csv"], tz="Europe/Paris")
    rows = events(ws)
    # Paris is UTC+01:00 in November
    assert [(r["event_ts"], r["recipient"], r["action"], r["message_id"], r["vendor_id"]) for r in rows] == [
        (ts(2026, 11, 6, 8, 15, 0), "mia.pink@contoso.com", "delivered", None, None),
        (ts(2026, 11, 6, 20, 15, 30), "ned.cyan@contoso.com", "quarantined", None, None),
    ]
    assert manifest(ws)[0]["tz_assumption"] == "Europe/Paris"


def test_eac_without_zone_and_without_tz_is_refused(ws):
    path = DATA / "eac_summary_utf8_bom.csv"
    with pytest.raises(InputError) as err:
        ws.ingest("c", [path])
    assert err.value.line == 1 and err.value.path == str(path)
    assert "--tz" in err.value.message
    assert_nothing_loaded(ws)


def test_eac_values_with_offset_need_no_tz(ws):
    ws.ingest("c", [DATA / "eac_summary_utf8_zoned.csv"])
    rows = events(ws)
    assert [(r["event_ts"], r["recipient"], r["action"], r["location"]) for r in rows] == [
        (ts(2026, 11, 7, 9, 0, 0), "olga.teal@contoso.com", "delivered", None),
        (ts(2026, 11, 7, 9, 0, 5), "paul.lime@contoso.com", "dropped", "none"),
    ]


def test_graph_page(ws):
    ws.ingest("c", [DATA / "graph_page.json"])
    rows = events(ws)
    # source_row is the line on which each record's object begins
    assert [(r["source_row"], r["recipient"], r["raw_status"], r["action"], r["location"]) for r in rows] == [
        (4, "quinn.gold@contoso.com", "Delivered", "delivered", None),
        (17, "rita.silver@contoso.com", "filteredAsSpam", "junked", "none"),
        (30, "sam.bronze@contoso.com", "quarantined", "quarantined", "quarantine"),
    ]
    assert [r["vendor_id"] for r in rows] == [
        "4451a062-48cb-e80d-e8c0-196330437ae6", "4451a062-48cb-e80d-e8c0-196330437ae7",
        "4451a062-48cb-e80d-e8c0-196330437ae8"]
    assert [r["event_ts"] for r in rows] == [ts(2026, 11, 8, 10, 30, s) for s in (0, 1, 2)]
    assert {r["message_id"] for r in rows} == {"d9683b4c-127b-413a-ae2e-fa7dfb32c69d@phish-sim.example"}
    assert ws.sql("SELECT DISTINCT shape FROM raw_m365_message_trace")["shape"].to_list() == ["graph"]


def test_graph_json_lines(ws):
    ws.ingest("c", [DATA / "graph_records.jsonl"])
    rows = events(ws)
    assert [(r["source_row"], r["event_ts"], r["recipient"], r["action"], r["location"], r["message_id"]) for r in rows] == [
        (1, ts(2026, 11, 9, 7, 45, 10), "tina.copper@contoso.com", "dropped", "none", "f00d@phish-sim.example"),
        (2, ts(2026, 11, 9, 7, 45, 11), "uma.nickel@contoso.com", "deferred", None, "f00d@phish-sim.example"),
    ]


def test_reporting_json_array_and_odata_page(ws):
    ws.ingest("c", [DATA / "reporting_records_array.json", DATA / "reporting_odata_page.json"])
    rows = events(ws)
    assert [(r["source_row"], r["event_ts"], r["recipient"], r["action"], r["raw_status"]) for r in rows] == [
        (2, ts(2026, 11, 10, 12, 0, 0, 100000), "vera.zinc@contoso.com", "delivered", "Delivered"),
        (3, ts(2026, 11, 10, 12, 0, 0, 200000), "walt.iron@contoso.com", "received", "Expanded"),
        (2, ts(2026, 11, 11, 8, 0, 0), "xena.tin@contoso.com", "received", "GettingStatus"),
    ]
    assert [r["vendor_id"] for r in rows] == ["1f2e3d4c-aaaa-4bbb-8ccc-08de1d2e3f01"] * 2 + [
        "2a3b4c5d-bbbb-4ccc-8ddd-08de1e2f3a01"]
    windows = [(m["window_start"], m["window_end"]) for m in manifest(ws)]
    assert windows == [(ts(2026, 11, 10), ts(2026, 11, 11)), (ts(2026, 11, 11), ts(2026, 11, 12))]


# -- bad input -------------------------------------------------------------------------------

V2_HEADER = '"MessageId","Received","SenderAddress","RecipientAddress","Subject","Status","ToIP","FromIP","Size","MessageTraceId"'


def v2_row(n: int, received: str) -> str:
    return (f'"<m{n}@phish-sim.example>","{received}","it@phish-sim.example","user{n}@contoso.com","Hi","Delivered",'
            f'"","203.0.113.30","100","00000000-0000-0000-0000-{n:012d}"')


def test_wrong_header_is_refused(ws, tmp_path):
    path = tmp_path / "trace.csv"
    path.write_text('"RecipientAddress","When","What"\n"a@contoso.com","2026-11-01T00:00:00Z","x"\n')
    with pytest.raises(InputError) as err:
        ws.ingest("c", [f"{path}:{FMT}"])
    assert err.value.line == 1 and "RecipientAddress, Received, Status" in err.value.message
    assert_nothing_loaded(ws)


def test_bad_timestamp_over_one_percent_fails_with_its_line(ws, tmp_path):
    path = tmp_path / "trace.csv"
    path.write_text("\n".join([V2_HEADER, v2_row(1, "2026-11-05T09:30:01Z"), v2_row(2, "05.11.2026 09:30")]) + "\n")
    with pytest.raises(InputError) as err:
        ws.ingest("c", [path])
    assert err.value.line == 3 and "Received" in err.value.message
    assert_nothing_loaded(ws)


def test_one_bad_timestamp_in_a_hundred_and_one_rows_is_a_reject(ws, tmp_path):
    lines = [V2_HEADER] + [v2_row(n, f"2026-11-05T09:{n // 60:02d}:{n % 60:02d}Z") for n in range(100)]
    lines.insert(51, v2_row(999, "2026-13-05T09:00:00Z"))  # line 52
    path = tmp_path / "trace.csv"
    path.write_text("\n".join(lines) + "\n")
    (res,) = ws.ingest("c", [path])
    assert (res.rows, res.rejects) == (100, 1)
    rejects = ws.sql("SELECT line, reason FROM load_rejects").rows()
    assert len(rejects) == 1 and rejects[0][0] == 52 and "Received" in rejects[0][1]
    assert ws.sql("SELECT count(*) AS n FROM stg_m365_message_trace WHERE recipient = 'user999@contoso.com'")["n"][0] == 0


def test_truncated_json_line_fails_with_its_line(ws, tmp_path):
    lines = (DATA / "graph_records.jsonl").read_text().splitlines()
    path = tmp_path / "trace.jsonl"
    path.write_text("\n".join([*lines, lines[0][:60]]) + "\n")
    with pytest.raises(InputError) as err:
        ws.ingest("c", [path])
    assert err.value.line == 3 and "JSON" in err.value.message
    assert_nothing_loaded(ws)


def test_truncated_first_json_line_fails(ws, tmp_path):
    path = tmp_path / "trace.jsonl"
    path.write_text('{"Organization":"contoso.com","RecipientAddress":"a@contoso.com","Status":"Deliv\n')
    with pytest.raises(InputError) as err:
        ws.ingest("c", [f"{path}:{FMT}"])
    assert err.value.line == 1 and "invalid JSON" in err.value.message
    assert_nothing_loaded(ws)


def test_json_records_of_another_shape_are_refused(ws, tmp_path):
    path = tmp_path / "other.json"
    path.write_text('[{"Date":"2026-11-01T00:00:00Z","Event":"Receive","MessageTraceId":"x"},\n'
                    ' {"Date":"2026-11-01T00:00:01Z","Event":"Deliver","MessageTraceId":"x"}]\n')
    with pytest.raises(InputError) as err:
        ws.ingest("c", [f"{path}:{FMT}"])
    assert err.value.line == 1 and "RecipientAddress" in err.value.message
    assert_nothing_loaded(ws)


def test_header_only_export_is_refused(ws, tmp_path):
    path = tmp_path / "trace.csv"
    path.write_text("#TYPE Deserialized.Microsoft.Exchange.Management.FfoReporting.MessageTrace\n" + V2_HEADER + "\n")
    with pytest.raises(InputError, match="no records"):
        ws.ingest("c", [path])
    assert_nothing_loaded(ws)


def test_empty_odata_page_alone_is_refused(ws, tmp_path):
    path = tmp_path / "page.json"
    path.write_text('{"odata.metadata":"https://reports.office365.com/ecp/ReportingWebService/Reporting.svc/'
                    '$metadata#MessageTrace","value":[]}\n')
    with pytest.raises(InputError, match="no records"):
        ws.ingest("c", [path])
    assert_nothing_loaded(ws)
