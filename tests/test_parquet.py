"""Per-customer hive-partitioned Parquet export, read in place by DuckDB, and import into another workspace."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest
from click.testing import CliRunner

from conftest import SAMPLES
from phishtrace import Workspace, registry
from phishtrace.cli import main
from phishtrace.errors import PhishtraceError


def _samples(customer):
    return sorted(str(p) for p in (SAMPLES / customer).iterdir())


@pytest.fixture
def source(tmp_path):
    """A workspace with both sample customers, a sender and aliases for acme."""
    ws = Workspace(str(tmp_path / "source.duckdb"))
    ws.ingest("acme", _samples("acme"), senders=["it-helpdesk@account-notice.example"])
    ws.ingest("globex", _samples("globex"))
    ws.add_aliases("acme", [("m.ali@acme-corp.example", "maria.ali@acme-corp.example")])
    yield ws
    ws.close()


def _data_rows(customer):
    """Records of a sample PhishSim export (one per line after the header)."""
    return len((SAMPLES / customer / "phishsim_export.csv").read_text(encoding="utf-8").splitlines()) - 1


def _sorted(df: pl.DataFrame) -> pl.DataFrame:
    return df.sort(["customer", "campaign", "run", "recipient"])


def _load_paths(ws: Workspace, outcomes: pl.DataFrame) -> list:
    paths = dict(ws.con.execute("SELECT load_id, path FROM load_manifest").fetchall())
    return [paths.get(i) for i in outcomes["evidence_load_id"].to_list()]


def _per_customer(ws: Workspace, table: str) -> dict[str, int]:
    return dict(ws.con.execute(f"SELECT customer, count(*) FROM {table} GROUP BY 1").fetchall())


def test_export_is_read_in_place_and_imports_beside_another_customer(source, tmp_path):
    out = tmp_path / "export"
    written = source.export_parquet(out)
    assert written["raw_m365_message_trace"] == sum(_per_customer(source, "raw_m365_message_trace").values())
    assert written["customer_senders"] == 1 and written["recipient_aliases"] == 1
    # hive partitions DuckDB reads in place, one folder per customer
    con = duckdb.connect()
    in_place = dict(con.execute(
        "SELECT customer, count(*) FROM read_parquet(?, hive_partitioning = true) GROUP BY 1",
        [str(out / "raw_m365_message_trace" / "*" / "*.parquet")]).fetchall())
    assert in_place == _per_customer(source, "raw_m365_message_trace") and set(in_place) == {"acme", "globex"}
    assert (out / "raw_proofpoint_pod_json" / "customer=acme" / "data.parquet").is_file()
    assert not (out / "raw_proofpoint_pod_json" / "customer=globex").exists()  # globex has no PoD log

    # the target already has loads of its own (load ids 1..n): the imported loads are renumbered
    target = Workspace(str(tmp_path / "target.duckdb"))
    target.ingest("initech", [str(SAMPLES / "acme" / "phishsim_export.csv")])
    own = target.outcomes("initech")
    loaded = target.import_parquet(out)
    assert loaded == written
    for customer in ("acme", "globex"):
        got, want = _sorted(target.outcomes(customer)), _sorted(source.outcomes(customer))
        # load ids are renumbered; the load each verdict cites is the same file
        assert got.drop("evidence_load_id").equals(want.drop("evidence_load_id"))
        assert _load_paths(target, got) == _load_paths(source, want)
        assert got["evidence_load_id"].to_list() != want["evidence_load_id"].to_list()
    assert _sorted(target.outcomes("initech")).equals(_sorted(own))
    ids = target.con.execute("SELECT load_id, count(*) FROM load_manifest GROUP BY 1 HAVING count(*) > 1").fetchall()
    assert ids == []
    # every load's rows came with it: per load, the manifest's row count is the raw table's
    for (load_id, fmt, rows) in target.con.execute("SELECT load_id, format, rows_loaded FROM load_manifest").fetchall():
        table = registry.get(fmt).table
        assert target.con.execute(f"SELECT count(*) FROM {table} WHERE load_id = ?", [load_id]).fetchall()[0][0] == rows
    assert target.con.execute("SELECT sender FROM customer_senders WHERE customer = 'acme'").fetchall() == [
        ("it-helpdesk@account-notice.example",)]
    target.close()


def test_a_customers_export_replaces_its_earlier_one_only(source, tmp_path):
    out = tmp_path / "export"
    source.export_parquet(out)
    smaller = Workspace(str(tmp_path / "smaller.duckdb"))
    smaller.ingest("acme", [str(SAMPLES / "acme" / "phishsim_export.csv")])
    assert smaller.export_parquet(out, ["acme"]) == {"load_manifest": 1, "raw_phishsim_csv": _data_rows("acme")}
    assert not (out / "raw_m365_message_trace" / "customer=acme").exists()
    assert (out / "raw_m365_message_trace" / "customer=globex" / "data.parquet").is_file()
    assert not any(p.name.startswith(".export-") for p in out.iterdir())
    with pytest.raises(PhishtraceError, match="no data loaded for customer 'hooli'"):
        smaller.export_parquet(out, ["hooli"])
    smaller.close()


def test_a_bad_export_is_refused_whole(source, tmp_path):
    out = tmp_path / "export"
    source.export_parquet(out)
    target = Workspace(str(tmp_path / "target.duckdb"))
    bad = out / "raw_m365_message_trace" / "customer=globex" / "data.parquet"
    bad.write_bytes(b"PAR1 not really parquet")
    with pytest.raises(PhishtraceError) as err:
        target.import_parquet(out)
    assert str(bad) in str(err.value) and "\n" not in str(err.value)
    assert target.customers() == [] and target.con.execute("SELECT count(*) FROM raw_phishsim_csv").fetchall() == [(0,)]
    with pytest.raises(PhishtraceError, match="no phishtrace Parquet export here"):
        target.import_parquet(tmp_path)
    with pytest.raises(PhishtraceError, match="customer 'acme' already has data in this workspace"):
        source.import_parquet(out)
    target.close()


def test_export_and_import_commands(source, tmp_path):
    db = str(tmp_path / "source.duckdb")
    source.close()
    out = tmp_path / "cli-export"
    r = CliRunner().invoke(main, ["export", "--db", db, "--out", str(out), "--customer", "globex"])
    assert r.exit_code == 0, r.output
    assert f"raw_phishsim_csv: {_data_rows('globex')} rows" in r.output and f"exported to {out}" in r.output
    r = CliRunner().invoke(main, ["import", "--db", str(tmp_path / "new.duckdb"), str(out)])
    assert r.exit_code == 0, r.output
    assert f"raw_phishsim_csv: {_data_rows('globex')} rows" in r.output
    r = CliRunner().invoke(main, ["export", "--db", db, "--out", str(out), "--customer", "nobody"])
    assert r.exit_code == 2 and r.output.startswith("error: no data loaded for customer 'nobody'")


def test_one_folder_with_customers_from_two_workspaces_imports(tmp_path):
    out = tmp_path / "export"
    first, second = Workspace(str(tmp_path / "w1.duckdb")), Workspace(str(tmp_path / "w2.duckdb"))
    first.ingest("acme", _samples("acme"))
    second.ingest("globex", _samples("globex"))  # its load ids start at 1 too
    first.export_parquet(out)
    second.export_parquet(out)
    target = Workspace(str(tmp_path / "target.duckdb"))
    target.import_parquet(out)
    for source, customer in ((first, "acme"), (second, "globex")):
        got, want = _sorted(target.outcomes(customer)), _sorted(source.outcomes(customer))
        assert got.drop("evidence_load_id").equals(want.drop("evidence_load_id"))
        assert _load_paths(target, got) == _load_paths(source, want)
    assert target.con.execute("SELECT count(DISTINCT load_id) = count(*) FROM load_manifest").fetchall() == [(True,)]
    for ws in (first, second, target):
        ws.close()


def test_rows_of_a_load_the_manifest_does_not_have_are_refused(source, tmp_path):
    out = tmp_path / "export"
    source.export_parquet(out)
    stray = out / "raw_phishsim_csv" / "customer=globex" / "data.parquet"
    duckdb.connect().sql("SELECT * REPLACE (load_id + 1000 AS load_id) FROM read_parquet(?)",
                         params=[str(stray)]).write_parquet(str(tmp_path / "stray.parquet"))
    (tmp_path / "stray.parquet").replace(stray)
    target = Workspace(str(tmp_path / "target.duckdb"))
    with pytest.raises(PhishtraceError, match=f"{stray}: {_data_rows('globex')} row\\(s\\) belong to no load"):
        target.import_parquet(out)
    assert target.customers() == []
    target.close()
