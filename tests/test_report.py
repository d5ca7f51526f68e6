"""`phishtrace report` end to end on two hand-written customers sharing a domain (tests/report_support.py):
files and index, HTML escaping, CSV formula neutralising, masking, customer isolation, a failing
customer, the parameters cell against ReportParams. Each papermill run happens once per module."""

from __future__ import annotations

import ast
import csv
import io
import re
import shutil
from dataclasses import MISSING, fields
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner

from phishtrace import report
from phishtrace.cli import main
from phishtrace.errors import PhishtraceError
from phishtrace.masking import Masker
from phishtrace.report_params import ReportParams
from report_support import (ALPHA, ALPHA_CAMPAIGN, ALPHA_RUN, BETA, XSS, chromium, external_references, once,
                            open_in_chromium, tags, write_two_customers)

ROOT = Path(__file__).resolve().parents[1]
KEY = "test-key-0123456789"
PSEUDONYM = re.compile(r"user-[0-9a-f]{8}@domain-[0-9a-f]{6}\.invalid")


def run_report(db: Path, customers, out: Path, **kwargs) -> tuple[int, list[str]]:
    lines: list[str] = []
    code = report.report_command(str(db), customers, str(out), jobs=2, progress=False,
                                 echo=lambda msg, err=False: lines.append(str(msg)), **kwargs)
    return code, lines


@pytest.fixture(scope="module")
def two(tmp_path_factory, _template_db):
    def build(folder: Path) -> dict:
        from phishtrace import Workspace

        files = write_two_customers(folder / "data")
        db = folder / "ws.duckdb"
        shutil.copyfile(_template_db, db)
        with Workspace(str(db)) as ws:
            for customer, paths in files.items():
                ws.ingest(customer, [str(p) for p in paths])
        return {"db": str(db)}

    folder, res = once(tmp_path_factory, "two-customers", build)
    return folder, Path(res["db"])


def rendered_once(tmp_path_factory, name: str, db: Path, customers, **kwargs):
    def build(folder: Path) -> dict:
        code, lines = run_report(db, customers, folder / "out", **kwargs)
        return {"code": code, "lines": lines}

    folder, res = once(tmp_path_factory, name, build)
    return folder / "out", res["code"], res["lines"]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, two):
    return rendered_once(tmp_path_factory, "two-reports", two[1], None)


@pytest.fixture(scope="module")
def masked(tmp_path_factory, two):
    return rendered_once(tmp_path_factory, "two-masked", two[1], ["alpha"], campaign=ALPHA_CAMPAIGN,
                         mask_recipients=True, mask_key=KEY)


@pytest.fixture(scope="module")
def local_time(tmp_path_factory, two):
    return rendered_once(tmp_path_factory, "two-new-york", two[1], ["alpha"], time_zone="America/New_York")


@pytest.fixture(scope="module")
def failed(tmp_path_factory, two):
    """Both customers rendered with a notebook whose extra cell fails for beta only."""
    def build(folder: Path) -> dict:
        nb = nbformat.read(str(report.NOTEBOOK), as_version=4)
        planted = nbformat.v4.new_code_cell('assert customer != "beta", "planted failure for beta"')
        planted.id = "planted-failure"
        index = next(i for i, c in enumerate(nb.cells) if c.get("id") == "load")
        nb.cells.insert(index + 1, planted)
        notebook = folder / "failing.ipynb"
        nbformat.write(nb, str(notebook))
        code, lines = run_report(two[1], None, folder / "out", notebook=str(notebook))
        return {"code": code, "lines": lines}

    folder, res = once(tmp_path_factory, "two-failing", build)
    return folder / "out", res["code"], res["lines"]


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def csv_rows(path: Path) -> list[dict]:
    return list(csv.DictReader(io.StringIO(read(path))))


# -- parameters ----------------------------------------------------------------------------------
def notebook_parameters(path: Path) -> dict:
    nb = nbformat.read(str(path), as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1
    values = {}
    for node in ast.parse(cells[0].source).body:
        assert isinstance(node, ast.Assign) and len(node.targets) == 1, "the parameters cell only assigns"
        values[node.targets[0].id] = ast.literal_eval(node.value)
    return values


def test_parameters_cell_defines_exactly_the_dataclass_fields():
    values = notebook_parameters(report.NOTEBOOK)
    assert list(values) == ReportParams.names()
    for f in fields(ReportParams):
        if f.default is not MISSING:
            assert values[f.name] == f.default, f.name
    assert values["customer"] == ""  # required in the dataclass: the notebook's placeholder


def test_notebooks_are_committed_without_outputs():
    for path in (ROOT / "notebooks").glob("*.ipynb"):
        nb = nbformat.read(str(path), as_version=4)
        nbformat.validate(nb)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, (path.name, cell.id)


# -- the reports ---------------------------------------------------------------------------------
def test_reports_and_index_are_written(rendered):
    out, code, lines = rendered
    assert code == 0, lines
    for customer in ("alpha", "beta"):
        assert (out / customer / "all.html").is_file()
        assert (out / customer / "all.csv").is_file()
        assert not (out / customer / "all-error.ipynb").exists()
    index = read(out / "index.html")
    links = {a["href"] for t, a in tags(index) if t == "a"}
    assert links == {"alpha/all.html", "alpha/all.csv", "beta/all.html", "beta/all.csv"}
    for customer in ("alpha", "beta"):  # each report's recipients, counted from its CSV
        with (out / customer / "all.csv").open(encoding="utf-8", newline="") as fh:
            n = sum(1 for _ in csv.DictReader(fh))
        assert re.search(rf"<td>{customer}</td><td>all</td><td>{n:,}</td>", index), customer
    assert any(line.startswith("index: ") and line.endswith("index.html") for line in lines)


def test_report_page_has_every_section_and_no_script_or_external_reference(rendered):
    out, _, _ = rendered
    page = read(out / "alpha" / "all.html")
    for heading in ("Summary", "Delivery funnel", "Where the messages stopped", "Time between hops",
                    "First interactions: people and link scanners", "Alerts", "Log coverage",
                    "Recipients that did not reach the inbox"):
        assert f">{heading}<" in page, heading
    found = tags(page)
    assert not [t for t, _ in found if t in ("script", "iframe", "object", "embed", "img", "link")]
    assert not [(t, n) for t, a in found for n in a if n.lower().startswith("on")]
    assert external_references(page) == []
    assert 'http-equiv="Content-Security-Policy"' in page and "default-src 'none'" in page
    assert "def " not in page and "report_sections" not in page  # code cells are hidden
    figures = re.findall(r'<figure class="pt-chart[^"]*" data-chart="([^"]+)">(.*?)</figure>', page, re.S)
    assert {name for name, _ in figures} >= {"funnel", "outcomes", "latency", "coverage"}
    for name, body in figures:
        assert "<svg" in body or "No data for this chart." in body, name


def test_log_text_is_escaped(rendered):
    out, _, _ = rendered
    page = read(out / "alpha" / "all.html")
    assert "Payroll &lt;img src=x onerror=alert(1)&gt;" in page
    assert XSS not in page
    assert "=SUM(1+1)" in page  # shown as text in the HTML


def test_csv_beside_the_report_neutralises_formulas(rendered):
    out, _, _ = rendered
    rows = csv_rows(out / "alpha" / "all.csv")
    assert sorted(r["recipient"] for r in rows) == ALPHA
    assert {r["run"] for r in rows} == {"'" + ALPHA_RUN}
    assert {r["campaign"] for r in rows} == {ALPHA_CAMPAIGN}
    by = {r["recipient"]: r for r in rows}
    assert by["a2@shared.example"]["outcome"] == "server_quarantined"
    assert by["a2@shared.example"]["evidence_file"] == "message_trace.csv"
    assert by["a1@shared.example"]["outcome"] == "delivered"


def test_each_report_holds_only_its_own_customer(rendered):
    out, _, _ = rendered
    alpha = read(out / "alpha" / "all.html") + read(out / "alpha" / "all.csv")
    beta = read(out / "beta" / "all.html") + read(out / "beta" / "all.csv")
    for address in BETA:
        assert address not in alpha
        assert address in beta
    for text in ("beta-only subject", "Beta secret campaign", "beta.onmicrosoft.com"):
        assert text not in alpha
    assert "a2@shared.example" in alpha  # not in the inbox: listed
    for address in ALPHA:  # beta's trace logs a1 too: that row is beta's, and alpha's rows are not in beta
        assert address not in beta
    assert "Payroll" not in beta and "SUM(1+1)" not in beta
    assert "Customer alpha" in alpha and "Customer beta" in beta


def test_report_in_headless_chromium_renders_injection_as_text(rendered, tmp_path):
    if chromium() is None:
        pytest.skip("chromium is not installed (Debian package 'chromium'; .ci/run installs it when it can)")
    out, _, _ = rendered
    seen = open_in_chromium(out / "alpha" / "all.html")
    assert seen["returncode"] == 0
    assert "<img" not in seen["dom"] and "&lt;img src=x onerror=alert(1)&gt;" in seen["dom"]
    assert seen["console"] == [] and seen["requests"] == []


# -- masking -------------------------------------------------------------------------------------
def test_masked_report_replaces_every_address(masked):
    out, code, lines = masked
    assert code == 0, lines
    name = report.safe_name(ALPHA_CAMPAIGN)
    page, table = read(out / "alpha" / f"{name}.html"), read(out / "alpha" / f"{name}.csv")
    masker = Masker(KEY)
    for text in (page, table):
        assert "shared.example" not in text and "@phish-sim.example" not in text
        for address in ALPHA:
            assert address not in text
        assert masker.address("a2@shared.example") in text
    rows = csv_rows(out / "alpha" / f"{name}.csv")
    assert sorted(r["recipient"] for r in rows) == sorted(masker.address(a) for a in ALPHA)
    assert all(PSEUDONYM.fullmatch(r["recipient"]) for r in rows)
    assert {r["sender"] for r in rows} == {masker.address("sim@phish-sim.example")}
    assert "first_name" not in rows[0] and "recipient addresses masked" in page


def test_masker_is_stable_keyed_and_masks_free_text():
    m, same, other = Masker(KEY), Masker(KEY), Masker("another key")
    a = m.address("Alice@Example.ORG")
    assert PSEUDONYM.fullmatch(a)
    assert a == same.address("<alice@example.org>") and a != other.address("alice@example.org")
    assert a.split("@")[1] == m.address("bob@example.org").split("@")[1]  # same domain, same masked domain
    m.learn_domains(["carol@corp.example"])
    text = m.text("550 5.1.1 <carol@corp.example>: unknown; 3 bounced at corp.example, not at notcorp.example; "
                  "relay=corp-example.mail.protection.outlook.com")
    assert "carol" not in text and " corp.example" not in text and m.domain("corp.example") in text
    assert "notcorp.example" in text
    assert "corp-example" not in text and m.domain("corp.example").replace(".", "-") + ".mail.protection" in text


# -- failures ------------------------------------------------------------------------------------
def test_failing_customer_leaves_error_notebook_and_others_render(failed):
    out, code, lines = failed
    assert code == 1
    assert (out / "alpha" / "all.html").is_file()
    assert not (out / "beta" / "all.html").exists()
    err = out / "beta" / "all-error.ipynb"
    assert err.is_file()
    nb = nbformat.read(str(err), as_version=4)
    failing = [c for c in nb.cells if any(o.get("output_type") == "error" for o in c.get("outputs", []))]
    assert [c.id for c in failing] == ["planted-failure"]
    text = "\n".join(lines)
    assert "1 of 2 report(s) failed" in text
    assert re.search(r"beta: cell 'planted-failure' \(#\d+\): AssertionError: planted failure for beta", text)
    index = read(out / "index.html")
    assert 'href="beta/all-error.ipynb"' in index and 'href="alpha/all.html"' in index


def test_cli_report_usage_and_unknown_customer(two):
    _, db = two
    runner = CliRunner()
    res = runner.invoke(main, ["report", "--db", str(db)])
    assert res.exit_code == 2 and "--customer NAME" in res.output
    res = runner.invoke(main, ["report", "--db", str(db), "--all", "--customer", "alpha"])
    assert res.exit_code == 2
    res = runner.invoke(main, ["report", "--db", str(db), "--customer", "gamma", "--out", str(db.parent / "x")])
    assert res.exit_code == 2 and "no data loaded for customer 'gamma'" in res.output
    res = runner.invoke(main, ["report", "--db", str(db.parent / "missing.duckdb"), "--all"])
    assert res.exit_code == 2 and "no workspace file" in res.output


# -- names and index -----------------------------------------------------------------------------
def test_file_names_are_safe_and_distinct():
    for hostile in ("../../etc/passwd", "..", "a/b\\c", "<script>", " spaced name "):
        name = report.safe_name(hostile)
        assert name and "/" not in name and "\\" not in name and not name.startswith(".")
        assert re.fullmatch(r"[A-Za-z0-9._-]+", name)
    names = report._unique_names(["a b", "a-b", "c"])
    assert len(set(names.values())) == 3 and names["c"] == "c"


def test_a_report_shows_its_times_in_the_zone_asked_for(rendered, local_time):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    out, code, lines = local_time
    assert code == 0, lines
    utc_page, page = read(rendered[0] / "alpha" / "all.html"), read(out / "alpha" / "all.html")
    stamps = set(re.findall(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)Z", utc_page))
    as_of = re.search(r"as of (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)Z", utc_page).group(1)
    assert len(stamps) > 3 and as_of in stamps
    for stamp in stamps - {re.search(r"generated (\S+ \S+)Z", utc_page).group(1)}:
        local = datetime.fromisoformat(stamp + "+00:00").astimezone(ZoneInfo("America/New_York"))
        assert local.strftime("%Y-%m-%d %H:%M:%S-04:00") in page, stamp  # June: EDT
    assert not re.search(r"\d\d:\d\d:\d\dZ", page)
    assert "times in America/New_York (the CSV is UTC)" in page
    assert "-04:00" not in (out / "alpha" / "all.csv").read_text(encoding="utf-8")


def test_each_campaign_gets_its_own_page_beside_all(tmp_path_factory, _template_db):
    def build(folder: Path) -> dict:
        from phishtrace import Workspace

        db = folder / "ws.duckdb"
        shutil.copyfile(_template_db, db)
        with Workspace(str(db)) as ws:
            # one tenant, two campaigns: both sample customers' campaign exports
            ws.ingest("acme", [str(ROOT / "data" / "samples" / c / "phishsim_export.csv") for c in ("acme", "globex")])
        code, lines = run_report(db, ["acme"], folder / "out", each_campaign=True)
        return {"code": code, "lines": lines}

    folder, res = once(tmp_path_factory, "acme-each-campaign", build)
    assert res["code"] == 0, res["lines"]
    out = folder / "out" / "acme"
    every = csv_rows(out / "all.csv")
    campaigns = sorted({r["campaign"] for r in every})
    assert len(campaigns) >= 2
    assert sorted(p.name for p in out.glob("*.html")) == sorted(["all.html", *(f"{report.safe_name(c)}.html"
                                                                                for c in campaigns)])
    for c in campaigns:  # each page holds exactly its campaign's recipients
        rows = csv_rows(out / f"{report.safe_name(c)}.csv")
        assert {r["campaign"] for r in rows} == {c}
        assert len(rows) == sum(1 for r in every if r["campaign"] == c)
        assert f"campaign {c}" in read(out / f"{report.safe_name(c)}.html")
    with pytest.raises(PhishtraceError, match="either --campaign NAME or --each-campaign"):
        run_report(folder / "ws.duckdb", ["acme"], folder / "other", campaign=campaigns[0], each_campaign=True)


def test_time_zone_parameter_is_checked_and_formats_offsets():
    from datetime import datetime, timezone
    from zoneinfo import ZoneInfo

    from phishtrace import report_html as H
    from phishtrace.errors import PhishtraceError
    from phishtrace.report_params import ReportParams

    with pytest.raises(PhishtraceError, match="unknown time zone 'Mars/Base'"):
        ReportParams(customer="acme", time_zone="Mars/Base")
    t = datetime(2025, 1, 15, 12, 0, 30, tzinfo=timezone.utc)
    try:
        H.set_time_zone(ZoneInfo("Asia/Kolkata"))
        assert H.text(t) == "2025-01-15 17:30:30+05:30"
        H.set_time_zone(ReportParams(customer="acme", time_zone="-03:30").zone())
        assert H.text(t) == "2025-01-15 08:30:30-03:30"
    finally:
        H.set_time_zone(None)
    assert H.text(t) == "2025-01-15 12:00:30Z"


def test_index_rolls_up_each_report_and_every_customer(tmp_path):
    outcomes = {"acme": ["interacted", "delivered", "bounced", "unverified", "server_junked"],
                "globex": ["delivered", "filter_quarantined", "interacted"]}
    for customer, values in outcomes.items():
        folder = tmp_path / customer
        folder.mkdir()
        (folder / "all.html").write_text("<html></html>", encoding="utf-8")
        (folder / "all.csv").write_text("recipient,outcome\n" + "".join(f"r{i}@x.example,{o}\n" for i, o in enumerate(values)),
                                        encoding="utf-8")
    # a one-campaign report of acme is listed but not added to the total again
    (tmp_path / "acme" / "q3.html").write_text("<html></html>", encoding="utf-8")
    (tmp_path / "acme" / "q3.csv").write_text("recipient,outcome\na@x.example,bounced\n", encoding="utf-8")
    page = read(report.write_index(tmp_path))
    rows = [[re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td>(.*?)</td>", tr)]
            for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", page)]
    by = {(r[0], r[1]): r[2:7] for r in rows if r}
    # recipients, in inbox, not in inbox (as the report's table: everything else), of which unverified, human
    assert by[("acme", "all")] == ["5", "2 (40 %)", "3 (60 %)", "1 (20 %)", "1 (20 %)"]
    assert by[("acme", "q3")] == ["1", "0 (0 %)", "1 (100 %)", "0 (0 %)", "0 (0 %)"]
    assert by[("globex", "all")] == ["3", "2 (67 %)", "1 (33 %)", "0 (0 %)", "1 (33 %)"]
    assert by[("all customers (2)", "all")] == ["8", "4 (50 %)", "4 (50 %)", "1 (12 %)", "2 (25 %)"]


def test_index_escapes_names(tmp_path):
    folder = tmp_path / "<b>odd & co"
    folder.mkdir()
    (folder / "all.html").write_text("<html></html>", encoding="utf-8")
    (folder / "q3-error.ipynb").write_text("{}", encoding="utf-8")
    page = read(report.write_index(tmp_path))
    assert "&lt;b&gt;odd &amp; co" in page and "<b>odd" not in page
    hrefs = [a["href"] for t, a in tags(page) if t == "a"]
    assert hrefs == ["%3Cb%3Eodd%20%26%20co/all.html", "%3Cb%3Eodd%20%26%20co/q3-error.ipynb"]


def test_sections_render_without_recipients_or_sends(tmp_path, _template_db):
    """A customer with only a message trace, and one whose run never sent anything: every section still
    renders, saying what is missing."""
    from phishtrace import Workspace, report_sections
    from report_support import PHISHSIM_HEADER, write_two_customers

    files = write_two_customers(tmp_path / "data")
    export = tmp_path / "never.csv"
    export.write_text(PHISHSIM_HEADER + "\nC,Run 1,2025-06-02T09:00:00Z,,N,T,n1@x.example,Scheduling,,,,,,,,,,,"
                      "sim@phish-sim.example,S,\n", encoding="utf-8")
    db = tmp_path / "ws.duckdb"
    shutil.copyfile(_template_db, db)
    with Workspace(str(db)) as ws:
        ws.ingest("only-trace", [str(files["beta"][1])])
        ws.ingest("never-sent", [str(export)])
    sections = ["header", "summary", "funnel", "outcome_breakdown", "latency", "interactions", "alerts", "coverage",
                "recipients_not_in_inbox", "write_outcomes_csv"]
    for customer in ("only-trace", "never-sent"):
        rep = report_sections.load(ReportParams(customer=customer, db=str(db)))
        html = {name: getattr(report_sections, name)(rep).data for name in sections}
        assert "No data for this chart." in html["latency"]
        if customer == "only-trace":
            assert "No campaign recipients are loaded" in html["summary"]
            assert "No campaign recipients are loaded." in html["recipients_not_in_inbox"]
        else:
            assert "1 recipient(s) were targeted" in html["summary"] and "0 (0.0%) were sent" in html["summary"]
            assert "n1@x.example" in html["recipients_not_in_inbox"]
    with pytest.raises(Exception, match="no data loaded for customer 'nobody'"):
        report_sections.load(ReportParams(customer="nobody", db=str(db)))
    with pytest.raises(Exception, match="has no campaign 'Q9'"):
        report_sections.load(ReportParams(customer="never-sent", campaign="Q9", db=str(db)))


def test_a_campaign_named_all_does_not_overwrite_the_overview(tmp_path):
    jobs = report.plan(str(tmp_path / "ws.duckdb"), ["acme"], tmp_path, {"campaign": None}, None,
                       tmp_path / "nb.ipynb", campaigns={"acme": ["all", "Q3"]})
    names = [Path(j.html).name for j in jobs]
    assert names[0] == "all.html" and names[2] == "Q3.html"
    assert names[1].startswith("all-") and len(set(names)) == 3
    assert [j.params["campaign"] for j in jobs] == [None, "all", "Q3"]
