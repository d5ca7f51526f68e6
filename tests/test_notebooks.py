"""Both notebooks on data/samples (every customer folder ingested into a temporary workspace; the
project's generator stands in when the folder is empty): the delivery report for each customer, opened
in headless Chromium, and the incident explorer on one recipient."""

from __future__ import annotations

import csv
import io
import re
import shutil
from pathlib import Path

import nbformat
import polars as pl
import pytest

from phishtrace import report
from report_support import (chromium, external_references, ingest_folders, once, open_in_chromium,
                            sample_folders)

ROOT = Path(__file__).resolve().parents[1]
EXPLORER = ROOT / "notebooks" / "incident_explorer.ipynb"
NEEDS_CHROMIUM = "chromium is not installed (Debian package 'chromium'; .ci/run installs it when it can)"


@pytest.fixture(scope="module")
def samples(tmp_path_factory, _template_db):
    def build(folder: Path) -> dict:
        db = folder / "samples.duckdb"
        shutil.copyfile(_template_db, db)
        return {"db": str(db), "customers": ingest_folders(db, sample_folders(folder))}

    folder, res = once(tmp_path_factory, "samples", build)
    assert res["customers"]
    return folder, Path(res["db"]), res["customers"]


@pytest.fixture(scope="module")
def views(samples):
    """What the workspace itself says, per customer (outcomes and funnel)."""
    from phishtrace import Workspace

    _, db, customers = samples
    with Workspace(str(db), read_only=True) as ws:
        return {c: {"outcomes": ws.outcomes(c), "funnel": ws.funnel(c)} for c in customers}


@pytest.fixture(scope="module")
def reports(tmp_path_factory, samples):
    _, db, _ = samples

    def build(folder: Path) -> dict:
        lines: list[str] = []
        code = report.report_command(str(db), None, str(folder / "out"), jobs=2, progress=False,
                                     echo=lambda msg, err=False: lines.append(str(msg)))
        return {"code": code, "lines": lines}

    folder, res = once(tmp_path_factory, "samples-reports", build)
    return folder / "out", res["code"], res["lines"]


@pytest.fixture(scope="module")
def explored(tmp_path_factory, samples, views):
    """The explorer on the last customer's first recipient (by address) that did not reach the inbox."""
    _, db, customers = samples
    customer = customers[-1]
    outcomes = views[customer]["outcomes"]
    stuck = outcomes.filter(~pl.col("outcome").is_in(["delivered", "interacted"])).sort("recipient")
    recipient = stuck["recipient"][0]

    def build(folder: Path) -> dict:
        report.execute(EXPLORER, folder / "explorer.ipynb",
                       {"customer": customer, "recipient": recipient.upper(), "db": str(db)})
        return {}

    folder, _ = once(tmp_path_factory, "samples-explorer", build)
    return customer, recipient, nbformat.read(str(folder / "explorer.ipynb"), as_version=4)


def outputs_html(nb) -> dict[str, str]:
    return {c.id: "".join(o.get("data", {}).get("text/html", "") for o in c.get("outputs", []))
            for c in nb.cells if c.cell_type == "code"}


def test_every_customer_gets_a_report_and_csv(reports, views):
    out, code, lines = reports
    assert code == 0, lines
    for customer, v in views.items():
        page = (out / customer / "all.html").read_text(encoding="utf-8")
        rows = list(csv.DictReader(io.StringIO((out / customer / "all.csv").read_text(encoding="utf-8"))))
        assert sorted(r["recipient"] for r in rows) == sorted(v["outcomes"]["recipient"].to_list())
        assert {r["customer"] for r in rows} == {customer}
        assert f"Delivery report: {customer}" in page
        assert external_references(page) == []


def test_summary_states_the_inbox_share_from_the_funnel(reports, views):
    out, _, _ = reports
    for customer, v in views.items():
        f = v["funnel"]
        targeted, inbox, human = (int(f[c].sum()) for c in ("targeted", "in_inbox", "human_interaction"))
        page = (out / customer / "all.html").read_text(encoding="utf-8")
        assert f"{targeted:,} recipient(s) were targeted" in page
        assert f"{inbox:,} ({100 * inbox / targeted:.1f}%) reached the inbox" in page
        assert f"a person interacted with {human:,} ({100 * human / targeted:.1f}%)" in page
        not_inbox = v["outcomes"].filter(~pl.col("outcome").is_in(["delivered", "interacted"]))
        if not_inbox.height:
            assert "Top next steps" in page
            assert not_inbox["recipient"][0] in page


def test_reports_render_in_headless_chromium_offline(reports, views):
    if chromium() is None:
        pytest.skip(NEEDS_CHROMIUM)
    out, _, _ = reports
    for customer in views:
        page = out / customer / "all.html"
        seen = open_in_chromium(page)
        assert seen["returncode"] == 0 and seen["netlog"]
        figures = re.findall(r'<figure class="pt-chart[^"]*" data-chart="([^"]+)">(.*?)</figure>', seen["dom"], re.S)
        names = [name for name, _ in figures]
        assert {"funnel", "outcomes", "latency", "interactions", "coverage"} <= set(names), names
        for name, body in figures:
            assert "<svg" in body, f"{customer}: chart {name} did not render"
        assert seen["console"] == [], seen["console"]
        assert seen["requests"] == [], seen["requests"]


def test_chromium_check_sees_requests_and_console_errors(tmp_path):
    """The check above can fail: a page that fetches an image and logs an error is caught."""
    if chromium() is None:
        pytest.skip(NEEDS_CHROMIUM)
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><html><body><img src="http://127.0.0.1:9/x.png">'
                    '<script>console.error("planted error")</script></body></html>', encoding="utf-8")
    seen = open_in_chromium(page)
    assert "http://127.0.0.1:9/x.png" in seen["requests"]
    assert any("planted error" in line for line in seen["console"])


def test_incident_explorer_shows_timeline_events_and_peers(explored, views):
    customer, recipient, nb = explored
    errors = [c.id for c in nb.cells if any(o.get("output_type") == "error" for o in c.get("outputs", []))]
    assert errors == []
    html = outputs_html(nb)
    assert recipient in html["load"] and customer in html["load"]
    mine = views[customer]["outcomes"].filter(pl.col("recipient") == recipient)
    for outcome in mine["outcome"].to_list():
        assert f"<td>{outcome}</td>" in html["outcome"]
    assert "<svg" in html["timeline"]
    assert "<td>platform</td>" in html["events"] and "<td>phishsim_export.csv</td>" in html["events"]
    pairs = mine.select("outcome", "stuck_at").unique()
    peers = (views[customer]["outcomes"].join(pairs, on=["outcome", "stuck_at"], how="semi")
             .filter(pl.col("recipient") != recipient))
    assert f"{peers.height} other recipient(s) with the same outcome" in html["peers"]
    for other in peers["recipient"].head(5).to_list():
        assert other in html["peers"]
