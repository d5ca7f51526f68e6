"""`phishtrace report`: run notebooks/delivery_report.ipynb with papermill per customer and write
`<out>/<customer>/<campaign or all>.html` (code hidden, charts inline SVG, no script, no network) with
the outcome table as `<name>.csv` beside it, then `<out>/index.html` linking every report.

A report is a pure function of (workspace file, ReportParams). Customers render in parallel processes
(`jobs`), each opening the workspace read-only; a failing customer leaves `<name>-error.ipynb` (the
executed notebook, its failing cell named in the error) and does not stop the others.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import re
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from phishtrace import report_html as H
from phishtrace.outcome_sets import IN_INBOX, UNVERIFIED
from phishtrace.errors import PhishtraceError
from phishtrace.masking import KEY_ENV, Masker
from phishtrace.report_params import ReportParams

# notebooks ship inside an installed wheel (phishtrace/_notebooks, see setup.py); a checkout has them in notebooks/
NOTEBOOK_DIRS = (Path(__file__).resolve().parent / "_notebooks", Path(__file__).resolve().parents[1] / "notebooks")


def notebook_path(name: str) -> Path:
    """The bundled notebook `name` (e.g. delivery_report.ipynb): the installed copy, else the checkout's."""
    for folder in NOTEBOOK_DIRS:
        if (folder / name).is_file():
            return folder / name
    return NOTEBOOK_DIRS[-1] / name


NOTEBOOK = notebook_path("delivery_report.ipynb")
KERNEL_NAME = "phishtrace-report"
CELL_TIMEOUT = 3600


@dataclass(frozen=True)
class Job:
    params: dict
    html: str
    csv: str
    error_notebook: str
    notebook: str
    title: str


@dataclass
class Result:
    customer: str
    html: str
    ok: bool
    error: str | None = None
    error_notebook: str | None = None
    seconds: float = 0.0
    size: int = 0
    csv: str | None = None


# -- names -------------------------------------------------------------------------------------
def safe_name(text: str) -> str:
    """A file-name-safe form of a customer or campaign name (no path separators, no leading dots)."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")[:80]
    return slug or "x-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]


def _unique_names(names: Iterable[str]) -> dict[str, str]:
    """name -> safe_name(name), with a short hash added where two names would share a file name."""
    names = list(dict.fromkeys(names))
    slugs = {n: safe_name(n) for n in names}
    counts: dict[str, int] = {}
    for s in slugs.values():
        counts[s.lower()] = counts.get(s.lower(), 0) + 1
    return {n: (s if counts[s.lower()] == 1 else f"{s}-{hashlib.sha256(n.encode('utf-8')).hexdigest()[:6]}")
            for n, s in slugs.items()}


# -- one report (runs in a worker process) -----------------------------------------------------
def kernel_root() -> Path:
    """A private Jupyter data folder whose kernel runs this interpreter (so papermill never picks another
    Python's `python3` kernel)."""
    root = Path(tempfile.mkdtemp(prefix="phishtrace-kernel-"))
    spec = root / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}",
                 "--IPKernelApp.log_level=ERROR"],
        "display_name": "phishtrace report", "language": "python"}), encoding="utf-8")
    return root


def _init_worker(env: dict[str, str]) -> None:
    os.environ.update(env)


def failing_cell(nb, exc: BaseException | None = None) -> str:
    """'cell <id> (#n): Error: message' for the cell of an executed notebook that failed: the first with an
    error output, else the one papermill flagged (a timeout, a dead kernel), else the exception alone."""
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                value = re.sub(r"\x1b\[[0-9;]*m", "", str(out.get("evalue", ""))).strip()
                return f"cell {cell.get('id', '?')!r} (#{index}): {out.get('ename', 'Error')}: {value}"
    what = f"{type(exc).__name__}: {exc}".strip() if exc is not None else "failed"
    for index, cell in enumerate(nb.cells):
        if cell.get("metadata", {}).get("papermill", {}).get("exception"):
            return f"cell {cell.get('id', '?')!r} (#{index}): {what}"
    return what


def to_html(nb, title: str) -> str:
    """The executed notebook as a standalone page: code and prompts hidden, stderr dropped."""
    from nbconvert import HTMLExporter

    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs
                            if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
    nb.metadata.pop("widgets", None)
    exporter = HTMLExporter(template_name="basic", exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nb)
    return H.page(title, body)


def _replace(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def render_one(job: Job) -> Result:
    """Execute the notebook for job.params and write the HTML and CSV; never raises."""
    import nbformat
    import papermill as pm

    started = time.monotonic()
    html, csv, err_nb = Path(job.html), Path(job.csv), Path(job.error_notebook)
    customer = job.params["customer"]
    work = Path(tempfile.mkdtemp(prefix="phishtrace-report-"))
    executed = work / "executed.ipynb"
    params = dict(job.params, outcomes_csv=str(work / "outcomes.csv"))
    try:
        try:
            pm.execute_notebook(job.notebook, str(executed), parameters=params, kernel_name=KERNEL_NAME,
                                progress_bar=False, log_output=False, execution_timeout=CELL_TIMEOUT)
        except Exception as exc:  # noqa: BLE001 - every failure becomes an error notebook and a message
            if executed.exists():
                error = failing_cell(nbformat.read(str(executed), as_version=4), exc)
                _replace(executed, err_nb)
            else:
                error = f"{type(exc).__name__}: {exc}".strip()
            for stale in (html, csv):
                stale.unlink(missing_ok=True)
            return Result(customer, str(html), False, error=error,
                          error_notebook=str(err_nb) if err_nb.exists() else None,
                          seconds=time.monotonic() - started)
        page = to_html(nbformat.read(str(executed), as_version=4), job.title)
        (work / "report.html").write_text(page, encoding="utf-8")
        _replace(work / "report.html", html)
        if (work / "outcomes.csv").exists():
            _replace(work / "outcomes.csv", csv)
        err_nb.unlink(missing_ok=True)
        return Result(customer, str(html), True, seconds=time.monotonic() - started, size=html.stat().st_size,
                      csv=str(csv) if csv.exists() else None)
    except Exception as exc:  # noqa: BLE001
        return Result(customer, str(html), False, error=f"{type(exc).__name__}: {exc}",
                      seconds=time.monotonic() - started)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def execute(notebook: str | Path, output: str | Path, parameters: dict) -> None:
    """Run a notebook with papermill in this interpreter's kernel (e.g. notebooks/incident_explorer.ipynb)."""
    import papermill as pm

    root = kernel_root()
    before = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = str(root)
    try:
        pm.execute_notebook(str(notebook), str(output), parameters=parameters, kernel_name=KERNEL_NAME,
                            progress_bar=False, log_output=False, execution_timeout=CELL_TIMEOUT)
    finally:
        if before is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = before
        shutil.rmtree(root, ignore_errors=True)


def run_jobs(jobs: list[Job], processes: int, env: dict[str, str],
             on_done: Callable[[Result], None] | None = None, executor: Executor | None = None) -> list[Result]:
    """Render the jobs in `processes` local worker processes (spawned: no inherited DuckDB state), or on
    `executor` when given (any concurrent.futures.Executor whose workers see the workspace file and the
    environment `env`, e.g. a distributed cluster's executor)."""
    if executor is not None:
        return _collect(executor, jobs, on_done)
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=max(1, min(processes, len(jobs) or 1)), mp_context=ctx,
                             initializer=_init_worker, initargs=(env,)) as pool:
        return _collect(pool, jobs, on_done)


def _collect(pool: Executor, jobs: list[Job], on_done: Callable[[Result], None] | None) -> list[Result]:
    results = []
    futures = {pool.submit(render_one, job): job for job in jobs}
    for fut in as_completed(futures):
        job = futures[fut]
        try:
            res = fut.result()
        except Exception as exc:  # noqa: BLE001 - a worker that died
            res = Result(job.params["customer"], job.html, False, error=f"{type(exc).__name__}: {exc}")
        results.append(res)
        if on_done:
            on_done(res)
    return results


# -- the index ---------------------------------------------------------------------------------
ROLLUP = ("recipients", "in inbox", "not in inbox", "of which unverified", "human interaction")


def outcome_counts(csv_path: Path) -> dict[str, int] | None:
    """The roll-up numbers of one report's outcome CSV (None when it has no outcome column)."""
    import csv as csv_module

    counts = dict.fromkeys(ROLLUP, 0)
    with csv_path.open(encoding="utf-8", newline="") as fh:
        reader = csv_module.DictReader(fh)
        if "outcome" not in (reader.fieldnames or []):
            return None
        for row in reader:
            outcome = row["outcome"]
            counts["recipients"] += 1
            counts["in inbox" if outcome in IN_INBOX else "not in inbox"] += 1
            counts["of which unverified"] += outcome == UNVERIFIED
            counts["human interaction"] += outcome == "interacted"
    return counts


def _rollup_cells(counts: dict[str, int] | None) -> list[str]:
    if counts is None:
        return [""] * len(ROLLUP)
    total = counts["recipients"]
    return [H.esc(f"{counts[k]:,}" if k == "recipients" or not total else f"{counts[k]:,} ({100 * counts[k] / total:.0f} %)")
            for k in ROLLUP]


def write_index(out_dir: Path) -> Path:
    """out_dir/index.html: one row per report or failed report found under out_dir/<customer>/, with each
    report's outcome numbers (from its CSV) and their sum over every customer's full report (all.csv)."""
    rows, total = [], dict.fromkeys(ROLLUP, 0)
    summed = 0
    for folder in sorted(p for p in out_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        names = {p.stem for p in folder.glob("*.html") if not p.name.startswith(".")}
        names |= {p.name[: -len("-error.ipynb")] for p in folder.glob("*-error.ipynb")}
        for name in sorted(names):
            page, csv, err = folder / f"{name}.html", folder / f"{name}.csv", folder / f"{name}-error.ipynb"
            counts = outcome_counts(csv) if page.exists() and csv.exists() else None
            if counts is not None and name == "all":
                summed += 1
                total = {k: total[k] + counts[k] for k in ROLLUP}
            cells = [H.esc(folder.name), H.esc(name), *_rollup_cells(counts)]
            if page.exists():
                stamp = datetime.fromtimestamp(page.stat().st_mtime, timezone.utc)
                cells.append(f'<a href="{H.href(f"{folder.name}/{page.name}")}">report</a>'
                             + (f' · <a href="{H.href(f"{folder.name}/{csv.name}")}">CSV</a>' if csv.exists() else ""))
                cells.append(H.esc(stamp))
            else:
                cells += ["", ""]
            cells.append(f'<a href="{H.href(f"{folder.name}/{err.name}")}">failed: error notebook</a>'
                         if err.exists() else "ok")
            rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    if summed:
        cells = [H.esc(f"all customers ({summed})"), "all", *_rollup_cells(total), "", "", ""]
        rows.append('<tr class="pt-total">' + "".join(f"<td><strong>{c}</strong></td>" if c else "<td></td>"
                                                       for c in cells) + "</tr>")
    heads = ["customer", "report", *ROLLUP, "files", "updated", "status"]
    body = ("<h1>Delivery reports</h1>"
            f'<p class="pt-meta">{len(rows) - (1 if summed else 0)} report(s) · index written '
            f"{H.esc(datetime.now(timezone.utc))} · numbers from each report's outcome CSV; the last row sums "
            "the customers' full reports</p>"
            '<table class="pt-table"><thead><tr>' + "".join(f"<th>{H.esc(h)}</th>" for h in heads)
            + "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>")
    path = out_dir / "index.html"
    path.write_text(H.page("Delivery reports", body), encoding="utf-8")
    return path


# -- the command -------------------------------------------------------------------------------
def ensure_built(db_path: str) -> None:
    """Reports open the workspace read-only: rebuild its views first when they are from another version."""
    import duckdb

    from phishtrace import views
    from phishtrace.workspace import Workspace

    if db_path == ":memory:" or not Path(db_path).is_file():
        raise PhishtraceError(f"no workspace file at {db_path}: "
                              f"ingest data first (phishtrace ingest --db {db_path} ...)")
    try:
        con = duckdb.connect(db_path, read_only=True)
        try:
            fresh = views.stored(con, "views") == views.fingerprint()
        finally:
            con.close()
    except duckdb.Error as exc:
        raise PhishtraceError(f"{db_path}: cannot open the workspace: {exc}") from None
    if not fresh:
        Workspace(db_path).close()


def plan(db_path: str, customers: list[str], out_dir: Path, base: dict, masker: Masker | None,
         notebook: Path, campaigns: dict[str, list[str]] | None = None) -> list[Job]:
    """One job per customer (every campaign in all.html, or base['campaign']), and with `campaigns` one more
    per campaign listed for the customer, in <campaign>.html (never named like all.html)."""
    folders = _unique_names(customers)
    shown = lambda c: masker.text(c) if (masker and c) else c  # noqa: E731

    def job(customer: str, campaign: str | None, name: str) -> Job:
        params = ReportParams(customer=customer, db=db_path, **dict(base, campaign=campaign))
        folder = out_dir / folders[customer]
        title = f"Delivery report: {customer}" + (f" / {shown(campaign)}" if campaign else "")
        return Job(params=params.to_dict(), html=str(folder / f"{name}.html"), csv=str(folder / f"{name}.csv"),
                   error_notebook=str(folder / f"{name}-error.ipynb"), notebook=str(notebook), title=title)

    jobs = []
    for customer in customers:
        chosen = base.get("campaign")
        jobs.append(job(customer, chosen, safe_name(shown(chosen)) if chosen else "all"))
        listed = (campaigns or {}).get(customer, [])
        names = _unique_names(shown(c) for c in listed)
        jobs += [job(customer, c, _not_all(names[shown(c)], shown(c))) for c in listed]
    return jobs


def _not_all(name: str, text: str) -> str:
    """A campaign page's file name, never the overview's (all): that one gets the name's short hash."""
    return f"{name}-{hashlib.sha256(text.encode('utf-8')).hexdigest()[:6]}" if name.lower() == "all" else name


def report_command(db: str | None, customers: list[str] | None, out_dir: str, jobs: int | None = None,
                   campaign: str | None = None, as_of: str | None = None, mask_recipients: bool = False,
                   mask_key: str | None = None, latency_unit: str = "auto", max_table_rows: int = 1000,
                   notebook: str | None = None, echo: Callable[..., None] | None = None,
                   progress: bool | None = None, time_zone: str = "UTC", count_opens: bool = True,
                   each_campaign: bool = False) -> int:
    """Render reports for `customers` (None: every customer); print where they are; return the exit code."""
    from phishtrace.db import require_loaded, resolve_db_path
    from phishtrace.report_sections import open_workspace

    if echo is None:
        import click
        echo = click.echo
    db_path = str(Path(resolve_db_path(db)).resolve()) if resolve_db_path(db) != ":memory:" else ":memory:"
    nb_path = Path(notebook) if notebook else NOTEBOOK
    if not nb_path.is_file():
        raise PhishtraceError(f"report notebook not found at {nb_path} (pass --notebook PATH)")
    ensure_built(db_path)
    if each_campaign and campaign:
        raise PhishtraceError("give either --campaign NAME or --each-campaign")
    with open_workspace(db_path) as ws:
        if customers is None:
            customers = ws.customers()
            if not customers:
                raise PhishtraceError(f"{db_path}: no customer has data loaded")
        else:
            customers = list(dict.fromkeys(customers))
            require_loaded(ws.con, customers)
        by_customer = {c: ws.sql("SELECT DISTINCT campaign FROM int_messages WHERE customer = ? AND campaign IS NOT NULL "
                                 "ORDER BY 1", [c])["campaign"].to_list() for c in customers} if each_campaign else None
    base = {"campaign": campaign, "as_of": as_of, "mask_recipients": mask_recipients,
            "latency_unit": latency_unit, "max_table_rows": max_table_rows, "time_zone": time_zone,
            "count_opens": count_opens}
    ReportParams(customer=customers[0], db=db_path, **base)  # validate once, before any process starts
    env = {"JUPYTER_PATH": str(kernel_root())}
    masker = None
    if mask_recipients:
        key = mask_key or os.environ.get(KEY_ENV)
        if not key:
            key = secrets.token_hex(32)
            echo("note: masking with a random key; pseudonyms match only within this run "
                 f"(set --mask-key or {KEY_ENV} to keep them stable)", err=True)
        env[KEY_ENV] = key
        masker = Masker(key)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    job_list = plan(db_path, customers, out, base, masker, nb_path, campaigns=by_customer)
    results = _run_with_progress(job_list, jobs or default_jobs(), env, progress)
    shutil.rmtree(env["JUPYTER_PATH"], ignore_errors=True)
    for r in sorted(results, key=lambda r: r.customer):
        if r.ok:
            echo(f"{r.customer}: {r.html} ({r.size / 1024:.0f} KiB, {r.seconds:.1f} s)")
    index = write_index(out)
    failed = [r for r in results if not r.ok]
    if failed:
        echo(f"{len(failed)} of {len(results)} report(s) failed:", err=True)
        for r in sorted(failed, key=lambda r: r.customer):
            where = f" (see {r.error_notebook})" if r.error_notebook else ""
            echo(f"  {r.customer}: {r.error}{where}", err=True)
    echo(f"index: {index}")
    return 1 if failed else 0


def default_jobs() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def _run_with_progress(jobs: list[Job], processes: int, env: dict[str, str], show: bool | None) -> list[Result]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    show = sys.stderr.isatty() if show is None else show
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, transient=True, disable=not show) as bar:
        task = bar.add_task("rendering reports", total=len(jobs))
        return run_jobs(jobs, processes, env,
                        on_done=lambda r: bar.update(task, advance=1, description=f"rendered {r.customer}"))


def demo_reports(db: str, out_dir: str = "reports") -> Path | None:
    """`make demo`: render every customer's report from the demo workspace and print reports/index.html."""
    import click

    if db == ":memory:":
        click.echo("reports: skipped (they read a workspace file, not ':memory:')")
        return None
    code = report_command(db, None, out_dir)
    if code:
        raise PhishtraceError("some demo reports failed (see above)")
    return Path(out_dir) / "index.html"
