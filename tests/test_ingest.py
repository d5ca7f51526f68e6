"""Ingest mechanics: detection, idempotent re-ingest, --force, nothing half-loaded, customers kept apart."""

from __future__ import annotations

import pytest

from phishtrace import InputError
from phishtrace.errors import PhishtraceError

EXPORT = ("Campaign,Campaign Run,Run Start,Run End,First Name,Last Name,Email,Status,Scheduled At,Sent At,"
          "Delivered At,Opened At,Phished At,Replied At,Entered Data At,Reported At,Bounced At,Bounce Reason,"
          "Sender,Subject,Message ID\n"
          "Q4,Run 1,2026-11-02T09:00:00Z,,A,B,{email},Sent,,2026-11-02T09:01:00Z,,,,,,,,,it@sim.example,Hi,\n")


def tables(ws) -> dict[str, int]:
    names = ["load_manifest", "load_rejects", "raw_phishsim_csv"]
    return {n: ws.sql(f'SELECT count(*) AS n FROM "{n}"')["n"][0] for n in names}


def export(tmp_path, name, email="a@example.com"):
    p = tmp_path / name
    p.write_text(EXPORT.format(email=email), encoding="utf-8")
    return p


def test_reingest_same_bytes_is_a_no_op(ws, tmp_path):
    p = export(tmp_path, "e.csv")
    first = ws.ingest("acme", [p])[0]
    before = tables(ws)
    again = ws.ingest("acme", [p])[0]
    assert first.status == "loaded" and again.status == "unchanged"
    assert again.load_id == first.load_id
    assert tables(ws) == before
    copy = export(tmp_path, "copy.csv")  # same bytes under another name: still the same load
    assert ws.ingest("acme", [copy])[0].status == "unchanged"
    assert tables(ws) == before


def test_force_replaces_the_load(ws, tmp_path):
    p = export(tmp_path, "e.csv")
    first = ws.ingest("acme", [p])[0]
    forced = ws.ingest("acme", [p], force=True)[0]
    assert forced.status == "replaced" and forced.load_id != first.load_id
    assert tables(ws)["raw_phishsim_csv"] == 1
    assert ws.sql("SELECT load_id FROM load_manifest")["load_id"].to_list() == [forced.load_id]


def test_same_file_for_two_customers_stays_apart(ws, tmp_path):
    ws.ingest("acme", [export(tmp_path, "a.csv", "x@acme.example")])
    ws.ingest("globex", [export(tmp_path, "g.csv", "y@globex.example")])
    acme = ws.outcomes("acme")
    globex = ws.outcomes("globex")
    assert acme["recipient"].to_list() == ["x@acme.example"]
    assert globex["recipient"].to_list() == ["y@globex.example"]
    assert set(acme["customer"]) == {"acme"}


@pytest.mark.parametrize("content, fragment", [
    (b"", "empty file"),
    (b"\n\n  \n", "empty file"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" + bytes(range(256)) * 4, "binary data"),
    (b"just some notes\nnothing to see here\n", "no loader recognises"),
    (b'{"hello": "world"}\n', "no loader recognises"),
])
def test_unusable_files_fail_clearly_and_change_nothing(ws, tmp_path, content, fragment):
    ws.ingest("acme", [export(tmp_path, "ok.csv")])
    before = tables(ws)
    p = tmp_path / "bad.dat"
    p.write_bytes(content)
    with pytest.raises(InputError) as err:
        ws.ingest("acme", [p])
    assert str(p) in str(err.value) and fragment in str(err.value)
    assert "\n" not in str(err.value)
    assert tables(ws) == before


def test_missing_file_and_unknown_format(ws, tmp_path):
    with pytest.raises(InputError, match="no such file"):
        ws.ingest("acme", [tmp_path / "nope.csv"])
    p = export(tmp_path, "e.csv")
    # an unknown ':suffix' is part of the path, so the file is not found
    with pytest.raises(InputError, match="no such file"):
        ws.ingest("acme", [f"{p}:nosuchformat"])
    with pytest.raises(PhishtraceError, match="customer"):
        ws.ingest(" ", [p])


def test_a_failing_file_keeps_earlier_files_of_the_same_run(ws, tmp_path):
    good = export(tmp_path, "good.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text(EXPORT.format(email="a@example.com").replace("2026-11-02T09:01:00Z", "soon"), encoding="utf-8")
    with pytest.raises(InputError) as err:
        ws.ingest("acme", [good, bad])
    assert err.value.line == 2
    assert tables(ws)["raw_phishsim_csv"] == 1
    assert ws.outcomes("acme").height == 1
